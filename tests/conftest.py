"""Shared fixtures: one local Ray per session, a real S3 endpoint (moto server) on 127.0.0.1."""

import os
import socket
import subprocess
import sys
import time

import pytest
import torch

# Credentials for the local moto endpoint only; set before Ray starts so workers inherit them.
os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
os.environ.pop("AWS_PROFILE", None)
torch.set_num_threads(2)


#: Fixtures that start Ray or an S3 server: a test using one is marked slow.
SLOW_FIXTURES = {"ray_session", "s3_endpoint", "s3_bucket"}
#: Modules whose tests start job subprocesses, clusters or kill them.
SLOW_MODULES = {"test_faults", "test_autoscaling"}


def pytest_collection_modifyitems(config, items):
    """Mark the slow tests (``-m "not slow"`` runs the rest); the default command still runs all."""
    for item in items:
        if SLOW_FIXTURES & set(getattr(item, "fixturenames", ())) or item.module.__name__ in SLOW_MODULES:
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def ray_session():
    import ray

    ray.init(num_cpus=2, logging_level="WARNING", include_dashboard=False)
    yield ray
    ray.shutdown()


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now (for servers and Ray nodes the tests start)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def s3_endpoint():
    """A real S3 API (moto in server mode) on 127.0.0.1, for the whole session."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            time.sleep(0.2)
    else:
        proc.kill()
        raise RuntimeError("moto server did not start")
    yield url
    proc.terminate()
    proc.wait(10)


@pytest.fixture()
def s3_bucket(s3_endpoint, request):
    """A fresh bucket; returns (bucket URL, storage options)."""
    import s3fs

    opts = {"endpoint_url": s3_endpoint}
    fs = s3fs.S3FileSystem(client_kwargs={"endpoint_url": s3_endpoint})
    name = "t-" + request.node.name.lower().replace("_", "-")[:40].strip("-") + f"-{int(time.time() * 1000) % 100000}"
    fs.mkdir(name)
    return f"s3://{name}", opts


@pytest.fixture(scope="session")
def tiny_ensemble():
    """Three small untrained CNNs of different architectures (fast, deterministic)."""
    from catalog_xai.core.ensemble import Ensemble
    from catalog_xai.core.models import create_model, default_spec

    torch.manual_seed(0)
    models = [create_model(default_spec(a, input_size=48)) for a in ("small_vgg", "small_resnet", "small_xception")]
    return Ensemble(models, {"name": "tiny-test"})


@pytest.fixture(scope="session")
def synthetic_table():
    """Eight synthetic galaxies as an input-contract Arrow table."""
    from catalog_xai.importers.synthetic import synthetic_shard_table

    return synthetic_shard_table(8, seed=3, first_objid=100)


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory, tiny_ensemble):
    """The tiny ensemble saved as a checkpoint directory (what jobs take)."""
    from catalog_xai import storage

    path = tmp_path_factory.mktemp("ckpt") / "tiny"
    storage.save_ensemble(tiny_ensemble.models, str(path), name="tiny-test", training_data="none")
    return str(path)
