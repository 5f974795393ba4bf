"""The project's workflow through config/profiles/slurm on a real one-node SLURM (../shared/notes/slurm.md).

The cluster belongs to the test: free ports, a munged on its own socket and key, state and logs in a
temporary folder. Its slurm.conf has to be the default /etc/slurm/slurm.conf, because the plugin's job
step strips SLURM_CONF from the environment of the `srun` it runs inside each job; so the test refuses
to run where a slurm.conf it did not write exists, and removes its own afterwards. Every daemon is
started in the foreground by this test and stopped by its PID; every wait is bounded.
"""

from __future__ import annotations

import fcntl
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

from conftest import REPO

pytestmark = [pytest.mark.slurm, pytest.mark.slow]  # ~40-75 s: daemons start, jobs poll

PACKAGES = ("slurmctld", "slurmd", "slurm-client", "munge")
SLURM_CONF = Path("/etc/slurm/slurm.conf")
GRES_CONF = SLURM_CONF.with_name("gres.conf")  # one pretend GPU, so a job can ask for one
CONF_MARKER = "# written by treenets tests/test_slurm.py (removed when the test ends)\n"
LOCK = Path("/run/treenets-test-slurm.lock")
DAEMONS = ("munged", "mungekey", "slurmctld", "slurmd", "sbatch", "squeue", "sinfo", "scontrol")

# The project's workflow on a few SICK pairs: a parser trained here, one parse, 2 models x 3 seeds.
TINY = {
    "experiment": "slurm_tiny",
    "parser": {"source": "bootstrap", "budget": "tiny"},
    "datasets": {"sick": {"task": "relatedness",
                          "data": {"dataset": "sick", "limit": {"train": 40, "dev": 20, "test": 20}}}},
    "defaults": {"training": {"epochs": 1, "batch_size": 20}},
    "models": {"lstm": {"model": {"name": "lstm", "hidden": 8}},
               "childsum": {"model": {"name": "childsum_treelstm", "hidden": 8}}},
    "seeds": [1, 2, 3],
    "report": {"resamples": 200},
}
RUNS_PER_GROUP = 3


def _install_slurm_if_missing() -> None:
    if all(shutil.which(tool) for tool in DAEMONS):
        return
    if sys.platform != "linux" or os.geteuid() != 0:
        pytest.skip("SLURM is not installed and installing it (apt-get) needs root on Linux")
    if not shutil.which("apt-get"):
        pytest.skip("SLURM is not installed and this system has no apt-get to install it with")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    try:
        subprocess.run(["apt-get", "update", "-qq"], env=env, check=True, capture_output=True, timeout=300)
        subprocess.run(
            ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *PACKAGES],
            env=env, check=True, capture_output=True, timeout=600,
        )
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as err:
        pytest.skip(f"could not install {' '.join(PACKAGES)} with apt-get: {err}")
    missing = [tool for tool in DAEMONS if not shutil.which(tool)]
    if missing:
        pytest.skip(f"installed SLURM but still missing {', '.join(missing)}")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_until(predicate, timeout: float, what: str, log_dir: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.5)
    logs = "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-2000:]}" for p in sorted(log_dir.glob("*.log")))
    pytest.fail(f"{what} within {timeout:.0f} s\n{logs}")


def _slurm_conf(root: Path, munge_socket: Path) -> str:
    mem_total_mib = int(Path("/proc/meminfo").read_text().split()[1]) // 1024
    return CONF_MARKER + f"""\
ClusterName=treenetstest
SlurmctldHost=localhost
SlurmctldPort={_free_port()}
SlurmdPort={_free_port()}
SlurmUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket={munge_socket}
StateSaveLocation={root}/ctld
SlurmdSpoolDir={root}/slurmd
SlurmctldPidFile={root}/slurmctld.pid
SlurmdPidFile={root}/slurmd.pid
SlurmctldLogFile={root}/logs/slurmctld.log
SlurmdLogFile={root}/logs/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU_Memory
ReturnToService=2
MinJobAge=3600
KillWait=5
GresTypes=gpu
NodeName=localhost CPUs={os.cpu_count()} RealMemory={int(mem_total_mib * 0.85)} Gres=gpu:1 State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
"""


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def _make_munge_dir(root: Path, munge_user: pwd.struct_passwd) -> Path:
    munge_dir = root / "munge"
    munge_dir.mkdir()
    munge_dir.chmod(0o755)
    key = munge_dir / "munge.key"
    subprocess.run(["mungekey", "--create", "--force", "--keyfile", str(key)], check=True, timeout=30)
    for path in (munge_dir, key):
        os.chown(path, munge_user.pw_uid, munge_user.pw_gid)
    key.chmod(0o400)
    return munge_dir


@pytest.fixture(scope="module")
def slurm_cluster():
    """Start munged, slurmctld and slurmd; yield the environment for SLURM clients."""
    if sys.platform != "linux" or os.geteuid() != 0:
        pytest.skip("starting slurmctld/slurmd/munged (and writing /etc/slurm/slurm.conf) needs root on Linux")
    _install_slurm_if_missing()
    with open(LOCK, "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pytest.skip(f"another test SLURM cluster is running on this machine ({LOCK} is locked)")
        for conf in (SLURM_CONF, GRES_CONF):
            if conf.exists() and not conf.read_text(errors="replace").startswith(CONF_MARKER):
                pytest.skip(f"{conf} exists and was not written by this test: not touching a real SLURM setup")
        # Not under pytest's tmp_path (mode 0700): munged runs as the munge user and checks that every
        # directory above its socket and seed file is searchable.
        root = Path(tempfile.mkdtemp(prefix="treenets-slurm-"))
        root.chmod(0o755)
        logs = root / "logs"
        processes = []
        try:
            for sub in ("ctld", "slurmd", "logs"):
                (root / sub).mkdir()
            munge_user = pwd.getpwnam("munge")
            munge_dir = _make_munge_dir(root, munge_user)
            munge_socket = munge_dir / "munge.socket"
            SLURM_CONF.parent.mkdir(parents=True, exist_ok=True)
            SLURM_CONF.write_text(_slurm_conf(root, munge_socket))
            GRES_CONF.write_text(f"{CONF_MARKER}NodeName=localhost Name=gpu File=/dev/null\n")
            env = {k: v for k, v in os.environ.items() if k != "SLURM_CONF"}
            with open(logs / "munged.stderr.log", "wb") as err:
                processes.append(subprocess.Popen(
                    ["munged", "--foreground", f"--socket={munge_socket}", f"--key-file={munge_dir / 'munge.key'}",
                     f"--pid-file={munge_dir / 'munged.pid'}", f"--log-file={logs / 'munged.log'}",
                     f"--seed-file={munge_dir / 'munged.seed'}"],
                    user=munge_user.pw_uid, group=munge_user.pw_gid, stdout=err, stderr=err,
                ))
            _wait_until(munge_socket.exists, 20, "munged did not create its socket", logs)
            for command in (["slurmctld", "-D"], ["slurmd", "-D", "-N", "localhost"]):
                with open(logs / f"{command[0]}.stderr.log", "wb") as err:
                    processes.append(subprocess.Popen(command, env=env, stdout=err, stderr=err))

            def node_idle() -> bool:
                state = subprocess.run(["sinfo", "-h", "-o", "%t"], env=env, capture_output=True, text=True, timeout=10)
                return state.stdout.strip() == "idle"

            _wait_until(node_idle, 60, "the SLURM node did not become idle", logs)
            yield env
        finally:
            for process in reversed(processes):  # slurmd, slurmctld, then munged
                _stop(process)
            SLURM_CONF.unlink(missing_ok=True)
            GRES_CONF.unlink(missing_ok=True)
            shutil.rmtree(root, ignore_errors=True)


def _jobs(env) -> dict[str, dict[str, str]]:
    """Every job the controller still knows (finished ones for MinJobAge): id -> its fields."""
    shown = subprocess.run(["scontrol", "-o", "show", "job"], env=env, capture_output=True, text=True, timeout=10)
    jobs = {}
    for line in shown.stdout.splitlines():
        fields = dict(field.split("=", 1) for field in line.split() if "=" in field)
        jobs[fields["JobId"]] = fields
    return jobs


def test_the_workflow_under_slurm_sends_the_training_runs_as_a_few_grouped_jobs(slurm_cluster, tmp_path, data_mirror):
    """parser, parse and report as one SLURM job each; the 6 training runs (train + evaluate) as 2 group
    jobs of 3, each asking for one GPU that its runs share; everything completes."""
    venv_bin = Path(sys.executable).parent
    env = dict(slurm_cluster, PATH=f"{venv_bin}{os.pathsep}{slurm_cluster['PATH']}", TREENETS_DATA_MIRROR=str(data_mirror))
    env["PYTHONPATH"] = str(REPO / "src")  # this checkout's treenets inside the jobs too
    # The repository's profile as it is, but for what this machine has: its cores, memory that fits, and
    # groups of 3 so that 6 runs make 2 group jobs.
    profile = yaml.safe_load((REPO / "config" / "profiles" / "slurm" / "config.yaml").read_text())
    assert profile["groups"] == ["train=runs", "evaluate=runs"] and profile["set-resources"]["train"]["gres"] == "gpu:1"
    profile["group-components"] = [f"runs={RUNS_PER_GROUP}"]
    profile["cores"] = 2
    profile["default-resources"]["mem_mb"] = 1000
    profile["set-resources"]["train"]["mem_mb"] = 500
    (tmp_path / "profile").mkdir()
    (tmp_path / "profile" / "config.yaml").write_text(yaml.safe_dump(profile))
    (tmp_path / "tiny.yaml").write_text(yaml.safe_dump(TINY))
    command = [
        sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"), "--directory", str(tmp_path),
        "--profile", str(tmp_path / "profile"), "--configfile", str(tmp_path / "tiny.yaml"),
        # A site polls every 30 s; a one-node test cluster can be asked every 2 s.
        "--slurm-init-seconds-before-status-checks", "2", "--seconds-between-status-checks", "2",
        "--latency-wait", "5",
        "--slurm-keep-successful-logs",  # one log per SLURM job, named after its rule or group: what ran where
    ]
    try:
        result = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900)
    except subprocess.TimeoutExpired as err:
        pytest.fail(f"snakemake did not finish within 900 s (status polling hung?)\n{err.stderr}")
    assert result.returncode == 0, result.stderr[-6000:]
    table = pd.read_csv(tmp_path / "results" / "slurm_tiny" / "tables" / "sick.csv").set_index("model")
    assert table["n_seeds"].to_dict() == {"lstm": 3, "childsum": 3}

    # Which SLURM job ran what: the plugin keeps one log per job, under the rule's or the group's name.
    logs = tmp_path / ".snakemake" / "slurm_logs"
    by_kind = {folder.name: sorted(folder.rglob("*.log")) for folder in logs.iterdir()}
    group = "group_runs_evaluate_train"
    assert sorted(by_kind) == sorted([group, "rule_parser_bootstrap", "rule_parse", "rule_report"]), sorted(by_kind)
    assert [len(by_kind[kind]) for kind in sorted(by_kind)] == [2, 1, 1, 1]  # 6 runs went out as 2 jobs
    jobs = _jobs(env)
    for kind, paths in by_kind.items():
        for path in paths:
            job = jobs[path.stem]
            assert job["JobState"] == "COMPLETED" and job["Partition"] == "debug", job  # the cluster default
    for path in by_kind[group]:
        text = path.read_text()  # the group job's Snakemake runs each of its jobs as a local rule
        assert text.count("localrule train:") == RUNS_PER_GROUP, text[-3000:]
        assert text.count("localrule evaluate:") == RUNS_PER_GROUP, text[-3000:]
        job = jobs[path.stem]
        # One (pretend) GPU per group, shared by its runs; 2 of them train at once on 2 CPUs.
        assert "gpu:1" in job.get("TresPerNode", ""), job
        assert job["NumCPUs"] == "2", job
