# How the first IndRNN layer dies at lr 1e-3 (T=500): test MSE on 100 test sequences and, per layer, the
# channels whose output is zero at every step of them, every 250 steps. The runs of dead_units.log, from the
# repository root (the first stopped by hand after 500 steps of seed 0):
#   OMP_NUM_THREADS=1 PYTHONPATH=src python docs/results/gradient_flow/cpu/adding_runs/lr1e-3/dead_units.py 500 0,1 1e-3 1500
#   OMP_NUM_THREADS=1 PYTHONPATH=src python docs/results/gradient_flow/cpu/adding_runs/lr1e-3/dead_units.py 500 1 1e-3 750
#   OMP_NUM_THREADS=1 PYTHONPATH=src python docs/results/gradient_flow/cpu/adding_runs/lr1e-3/dead_units.py 500 0 2e-4 1000
import torch, time, sys
import torch.nn.functional as F
from treenets.study.recurrent import Regressor, adding_problem, train_on_adding, build_encoder
from treenets.study.config import ModelSizes
torch.set_num_threads(1)
T=int(sys.argv[1]); seeds=[int(a) for a in sys.argv[2].split(",")]; lr=float(sys.argv[3]); steps=int(sys.argv[4])
px,py=adding_problem(500,T,torch.Generator().manual_seed(1))
for seed in seeds:
    torch.manual_seed(seed)
    m=Regressor(build_encoder("indrnn",ModelSizes(hidden=128,indrnn_layers=2,indrnn_init="li2018"),2,T))
    opt=torch.optim.Adam(m.parameters(), lr=lr); gen=torch.Generator().manual_seed(seed); t0=time.perf_counter()
    for k in range(steps//250):
        train_on_adding(m,250,50,T,opt,10.0,seed,torch.device("cpu"),gen)
        with torch.no_grad():
            mse=F.mse_loss(m(px[:100]),py[:100]).item()
            outs=m.encoder.layer_outputs(px[:100],torch.full((100,),T))
            dead=[int(((o>0).sum(dim=(0,1))==0).sum()) for o in outs]
        print(f"T={T} seed={seed} lr={lr} step={(k+1)*250} mse={mse:.4f} dead={dead} {time.perf_counter()-t0:.0f}s",flush=True)
