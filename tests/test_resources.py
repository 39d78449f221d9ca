"""Issue 13, items 1, 6, 8: the actor plan from what the cluster can have, GPU actors that cannot
use their GPU, progress lines, --version and --dry-run (no Ray for the pure parts)."""

import io
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from catalog_xai.cli.classify_survey import Progress
from catalog_xai.cluster.pool import GPUUnusableError, actor_device
from catalog_xai.cluster.shard import ShardResult
from catalog_xai.cluster.survey import (
    AUTOSCALING_CONFIG_ENV,
    Capacity,
    SurveyJob,
    _pool,
    cluster_capacity,
    gpus_in_autoscaling_config,
)

REPO = Path(__file__).resolve().parent.parent


def test_the_readme_cluster_can_reach_its_gpus_from_zero():
    config = yaml.safe_load((REPO / "cluster.yaml").read_text())
    gpu_types = [t for t in config["available_node_types"].values() if t.get("resources", {}).get("GPU")]
    assert gpu_types and all(t.get("min_workers", 0) == 0 for t in gpu_types)  # no GPU at submit time
    expected = sum(t["resources"]["GPU"] * t["max_workers"] for t in gpu_types)
    assert gpus_in_autoscaling_config(config) == min(expected, config["max_workers"] * max(
        t["resources"]["GPU"] for t in gpu_types))
    assert gpus_in_autoscaling_config(config) >= 1


def test_worker_cap_and_head_gpus_count():
    config = {"max_workers": 3, "head_node_type": "head",
              "available_node_types": {"head": {"resources": {"CPU": 4, "GPU": 1}, "max_workers": 0},
                                       "big": {"resources": {"GPU": 8}, "max_workers": 2},
                                       "small": {"resources": {"GPU": 1}, "max_workers": 10},
                                       "cpu": {"resources": {"CPU": 16}, "max_workers": 10}}}
    assert gpus_in_autoscaling_config(config) == 1 + 2 * 8 + 1 * 1  # the cap of 3 workers, biggest first
    assert gpus_in_autoscaling_config({"available_node_types": {}}) == 0


def test_capacity_reads_the_launcher_config_when_the_cluster_has_no_gpu_yet(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/ray_bootstrap_config.yaml here
    monkeypatch.delenv(AUTOSCALING_CONFIG_ENV, raising=False)
    laptop = cluster_capacity({"CPU": 8.0})
    assert (laptop.gpus, laptop.gpus_max) == (0, 0)
    # what `ray up` leaves on the head node: the GPU workers the autoscaler may start
    (tmp_path / "ray_bootstrap_config.yaml").write_text((REPO / "cluster.yaml").read_text())
    head = cluster_capacity({"CPU": 4.0})
    assert head.gpus == 0 and head.gpus_max >= 1 and "ray_bootstrap_config.yaml" in head.source
    monkeypatch.setenv(AUTOSCALING_CONFIG_ENV, str(tmp_path / "broken.yaml"))
    (tmp_path / "broken.yaml").write_text("available_node_types: [not, a, mapping")
    with pytest.raises(ValueError, match="broken.yaml"):
        cluster_capacity({"CPU": 4.0})


def test_pool_asks_for_gpus_the_autoscaler_can_start_and_cpus_on_a_laptop():
    job = SurveyJob(input_url="x", output_url="y")
    laptop = _pool(job, 10, Capacity(cpus=2, gpus=0, gpus_max=0))
    assert laptop.gpus_per_actor == 0 and laptop.max_actors == 2 and laptop.min_actors == 2  # both start at once
    cluster = _pool(job, 100, Capacity(cpus=4, gpus=0, gpus_max=16))  # GPU nodes scale from zero
    assert cluster.gpus_per_actor == 1 and cluster.max_actors == 16 and cluster.min_actors == 1
    assert _pool(job, 5, Capacity(cpus=4, gpus=0, gpus_max=16)).max_actors == 5  # never more actors than shards
    forced = _pool(SurveyJob(input_url="x", output_url="y", gpus_per_actor=0), 100, Capacity(4, 0, 16))
    assert forced.gpus_per_actor == 0 and forced.max_actors == 4


def test_an_actor_given_a_gpu_it_cannot_use_stops_with_a_reason():
    assert actor_device([], False) == "cpu"
    assert actor_device(["0"], True) == "cuda"
    assert actor_device([0], False, simulated=True) == "cpu"  # Ray's fake multi-node GPUs are counts only
    with pytest.raises(GPUUnusableError, match=r"given GPU \[0\].*torch 2.13.0\+cpu cannot use it"):
        actor_device([0], False, torch_version="2.13.0+cpu")


def test_progress_lines_have_galaxies_rate_and_eta_at_a_bounded_rate():
    out = io.StringIO()
    progress = Progress(every=30, out=out)
    for k in range(1, 101):
        res = ShardResult(shard=f"s{k}", rows_out=100, error="boom" if k == 50 else "")
        progress(res, k, 100, elapsed=k * 2.0)  # a shard every 2 s, 200 s in all
    lines = out.getvalue().splitlines()
    assert "[shard failed] s50: boom" in lines
    status = [ln for ln in lines if "galaxies/s" in ln]
    assert 5 <= len(status) <= 12  # the first, one per 30 s, the failure's and the last: not 100 lines
    # the size is estimated from the shards so far (~) until the last is in
    assert status[0].startswith("[2 s] 1/100 shards, 100/~10,000 galaxies (1.0%), 50.00 galaxies/s, ETA 3 min")
    assert status[-1].startswith("[3 min] 100/100 shards, 10,000/10,000 galaxies (100.0%)")
    assert "ETA" not in status[-1]


@pytest.mark.slow
def test_version_and_dry_run_write_nothing(tmp_path):
    job = [sys.executable, str(REPO / "jobs" / "classify_survey.py")]
    v = subprocess.run([*job, "--version"], capture_output=True, text=True, timeout=60)
    assert v.returncode == 0 and v.stdout.startswith("catalog_xai ") and "contract 2" in v.stdout
    out = tmp_path / "vac"
    dry = subprocess.run([*job, "--output", str(out), "--dry-run"], capture_output=True, text=True, timeout=300,
                         cwd=tmp_path)
    assert dry.returncode == 0, dry.stderr[-2000:]
    assert "2 shards, 36 galaxies" in dry.stdout and "actors 2..2, 1 CPU each" in dry.stdout
    assert "meets the input contract; nothing was written" in dry.stdout
    assert not out.exists()


@pytest.mark.slow
def test_a_gpu_actor_without_cuda_stops_the_job_with_the_reason(tmp_path):
    """A Ray that advertises a GPU to a torch without CUDA (this CPU machine): the job ends with
    the actor's reason instead of running GPU actors on the CPU."""
    script = (
        "import sys, ray\n"
        "ray.init(num_cpus=1, num_gpus=1, include_dashboard=False, logging_level='ERROR')\n"
        "from catalog_xai.cli import classify_survey\n"
        f"sys.exit(classify_survey.main(['--output', {str(tmp_path / 'vac')!r}, '--n-samples', '2']))\n")
    res = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300, cwd=tmp_path)
    text = res.stdout + res.stderr
    assert "0 GPUs now" not in text and "1 GPU each" in text  # Ray's GPU was planned for
    assert res.returncode == 2, text[-3000:]
    assert "cannot use it (torch.cuda.is_available() is False" in text, text[-3000:]
