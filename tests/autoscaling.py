"""Ray's simulated autoscaling cluster (``ray.cluster_utils.AutoscalingCluster``), made to live
beside the test session's own Ray.

``AutoscalingCluster.start`` begins with ``ray stop --force`` (every Ray on the machine, the
session's included) and reads an example config that the Ray wheel does not ship; this
subclass keeps its fake-multinode provider and node types, starts the head on its own port
and temp dir, and on shutdown kills only its own processes.
"""

from __future__ import annotations

import copy
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import ray._private.services
from ray.cluster_utils import FAKE_HEAD_NODE_ID, AutoscalingCluster

# The keys of Ray's fake_multi_node/example.yaml.
BASE_CONFIG = {
    "cluster_name": "fake_multinode", "max_workers": 8,
    "provider": {"type": "fake_multinode", "use_node_id_as_ip": True, "disable_node_updaters": True,
                 "disable_launch_config_check": True},
    "head_node_type": "ray.head.default", "auth": {}, "upscaling_speed": 1.0, "idle_timeout_minutes": 0.1,
    "docker": {}, "initialization_commands": [], "setup_commands": [], "head_setup_commands": [],
    "worker_setup_commands": [], "head_start_ray_commands": [], "worker_start_ray_commands": [],
    "file_mounts": {}, "cluster_synced_files": [], "file_mounts_sync_continuously": False,
    "rsync_exclude": [], "rsync_filter": [],
}
RAY = str(Path(sys.executable).parent / "ray")


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _environ(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/environ").read_bytes().replace(b"\0", b"\n").decode(errors="replace")
    except OSError:
        return ""


class LocalAutoscalingCluster(AutoscalingCluster):
    def __init__(self, head_resources: dict, worker_node_types: dict, *, port: int, dashboard_port: int | None = None,
                 **config_kwargs):
        self.port, self.dashboard_port = port, dashboard_port
        self.temp_dir = tempfile.mkdtemp(prefix="ra", dir="/tmp")  # short: socket paths are limited
        self.address = f"{ray._private.services.get_node_ip_address()}:{port}"
        super().__init__(head_resources, worker_node_types, **config_kwargs)

    def _generate_config(self, head_resources, worker_node_types, autoscaler_v2=False, **config_kwargs):
        config = copy.deepcopy(BASE_CONFIG)
        config["provider"]["gcs_address"] = self.address
        if autoscaler_v2:  # what `ray up` runs since Ray 2.50 (RAY_UP_enable_autoscaler_v2 defaults to 1)
            config["provider"].update(launch_multiple=True, head_node_id=FAKE_HEAD_NODE_ID)
        config["available_node_types"] = {**copy.deepcopy(worker_node_types),
                                          "ray.head.default": {"resources": dict(head_resources), "node_config": {},
                                                               "max_workers": 0}}
        config.update(config_kwargs)
        return config

    @property
    def config_path(self) -> Path:
        """The autoscaling config the head runs with (what ``ray up`` puts at ~/ray_bootstrap_config.yaml)."""
        return Path(self.temp_dir) / "autoscaling.json"

    def start(self, _system_config=None, override_env=None):
        path = self.config_path
        path.write_text(json.dumps(self._config))
        head = dict(self._head_resources)
        # With a dashboard port, the head serves the job API that `ray job submit` talks to.
        dashboard = ["--include-dashboard=false"]
        if self.dashboard_port:
            dashboard = [f"--dashboard-port={self.dashboard_port}", "--dashboard-host=127.0.0.1",
                         "--include-dashboard=true"]
        cmd = [RAY, "start", "--head", f"--port={self.port}", f"--temp-dir={self.temp_dir}",
               f"--autoscaling-config={path}", f"--num-cpus={head.pop('CPU', 0)}", f"--num-gpus={head.pop('GPU', 0)}",
               *dashboard, "--disable-usage-stats"]
        if "object_store_memory" in head:
            cmd.append(f"--object-store-memory={head.pop('object_store_memory')}")
        if head:
            cmd.append(f"--resources={json.dumps(head)}")
        env = dict(os.environ, AUTOSCALER_UPDATE_INTERVAL_S="1", RAY_FAKE_CLUSTER="1", **(override_env or {}))
        if self._autoscaler_v2:
            env.update(RAY_enable_autoscaler_v2="1", RAY_CLOUD_INSTANCE_ID=FAKE_HEAD_NODE_ID,
                       RAY_OVERRIDE_NODE_ID_FOR_TESTING=FAKE_HEAD_NODE_ID)
        env.pop("RAY_ADDRESS", None)
        res = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=120)
        if res.returncode:
            raise RuntimeError(f"{' '.join(cmd)} failed:\n{res.stdout[-3000:]}")
        ray._private.services.find_gcs_addresses.cache_clear()

    def own_processes(self) -> list[int]:
        """Head and fake worker nodes: everything whose command line or environment names this cluster."""
        pids = []
        for p in filter(str.isdigit, os.listdir("/proc")):
            pid = int(p)
            if pid != os.getpid() and (self.temp_dir in _cmdline(pid) or self.address in _cmdline(pid)
                                       or self.address in _environ(pid)):
                pids.append(pid)
        return pids

    def worker_node_processes(self, node_id: str) -> list[int]:
        """The processes of one fake worker node (its raylet and the workers it started)."""
        return [p for p in self.own_processes() if f"RAY_OVERRIDE_NODE_ID_FOR_TESTING={node_id}" in _environ(p)]

    def shutdown(self):
        for _ in range(3):
            pids = self.own_processes()
            if not pids:
                break
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.5)
        ray._private.services.find_gcs_addresses.cache_clear()
