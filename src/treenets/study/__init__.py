"""Gradient-flow and sequence-length study of the recurrent and tree encoders (issue 8).

Three parts, one ``treenets study`` subcommand each, all on the project's own encoders:

* :mod:`~treenets.study.grad_norms`: the norm of dL/dh_t at every step of RNN (tanh, ReLU), LSTM,
  GRU and IndRNN on the adding problem, and of dL/dh at every depth of an N-ary Tree-LSTM on SST
  trees, at initialisation and after a short training;
* :mod:`~treenets.study.adding`: the adding problem for several lengths T, MSE after a fixed
  budget of steps, with and without gradient clipping;
* :mod:`~treenets.study.speed`: training steps per second against T, SRNN included.

Settings: :class:`~treenets.study.config.StudyConfig` (the ``study:`` section of an experiment).
"""
