"""cluster.yaml, checked the way `ray up` checks it before it talks to AWS.

Ray's own prepare_config + validate_config (the schema `ray up` applies), Ray's AWS AMI
defaulting, and the properties that decide whether the cluster boots and runs the job:
GPU workers from zero, a GPU image with torch on every node, an instance profile for the
workers' s3:// access, and one Ray version everywhere. No Ray cluster, no AWS call.
Each check is also run against a broken copy of the config, so none passes vacuously.
"""

import copy
import inspect
import posixpath
import re
import shlex
from pathlib import Path

import jsonschema
import pytest
import ray
import yaml
from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import SpecifierSet
from packaging.version import Version
from ray.autoscaler._private.util import check_legacy_fields, prepare_config, validate_config

ROOT = Path(__file__).resolve().parents[1]
CLUSTER_YAML = ROOT / "cluster.yaml"
CONSTRAINTS = ROOT / "scripts" / "constraints.txt"
SETUP_SH = ROOT / "scripts" / "setup.sh"
TORCH_PACKAGES = {"torch", "torchvision", "torchaudio"}
DLAMI_SSM_PREFIX = "resolve:ssm:/aws/service/deeplearning/ami/"


def _config():
    return yaml.safe_load(CLUSTER_YAML.read_text())


def _prepared(cfg):
    """What `ray up` has before it calls AWS: defaults merged, setup commands merged."""
    cfg = copy.deepcopy(cfg)
    check_legacy_fields(cfg)
    prepared = prepare_config(cfg)
    validate_config(prepared)
    return prepared


def _worker_types(cfg):
    head = cfg["head_node_type"]
    return {k: v for k, v in cfg["available_node_types"].items() if k != head}


def _torch_spec():
    text = (ROOT / "pyproject.toml").read_text()
    m = re.search(r'^\s*"torch\s*([^";]*)"', text, re.M)
    assert m, "pyproject.toml has no torch requirement"
    return SpecifierSet(m.group(1))


# ---------------------------------------------------------------- shell command parsing

_SEPARATORS = {"&&", "||", ";", "|", "&", "(", ")"}
_VALUE_OPTIONS = {
    "-c", "--constraint", "-r", "--requirement", "-e", "--editable", "-i", "--index-url",
    "--extra-index-url", "-f", "--find-links", "-t", "--target", "--prefix", "--root",
    "--src", "--upgrade-strategy", "--cache-dir", "--trusted-host", "--log",
    "--progress-bar", "-C", "--config-settings", "--only-binary", "--no-binary",
    "--platform", "--python-version", "--implementation", "--abi", "--report",
}


def _segments(cmd):
    """Simple commands of a shell line, each with the directory it runs in."""
    lex = shlex.shlex(cmd, posix=True, punctuation_chars=True)
    lex.whitespace_split = True
    cwd, seg = "~", []
    for tok in list(lex) + [";"]:
        if tok in _SEPARATORS:
            if seg[:1] == ["cd"] and len(seg) > 1:
                cwd = seg[1] if seg[1][:1] in ("~", "/") else posixpath.join(cwd, seg[1])
            elif seg:
                yield cwd, seg
            seg = []
        else:
            seg.append(tok)


def _pip_installs(cmd):
    """The `pip install` calls of a shell line: cwd, constraint files, requirements."""
    for cwd, seg in _segments(cmd):
        if "install" not in seg:
            continue
        i = seg.index("install")
        if not any(t.rsplit("/", 1)[-1] in ("pip", "pip3") for t in seg[:i]):
            continue
        constraints, reqs, req_files, args = [], [], [], iter(seg[i + 1:])
        for tok in args:
            opt, eq, val = tok.partition("=")
            if tok.startswith("-") and opt in _VALUE_OPTIONS:
                val = val if eq else next(args, "")
                if opt in ("-c", "--constraint"):
                    constraints.append(val)
                elif opt in ("-r", "--requirement"):
                    req_files.append(val)
                elif opt in ("-e", "--editable"):
                    reqs.append(val)
            elif not tok.startswith("-"):
                reqs.append(tok)
        yield cwd, constraints, reqs, req_files


def _local_path(cfg, remote):
    """The local file behind a path on a node, through file_mounts; None if not mounted."""
    remote = posixpath.normpath(remote)
    for dst, src in (cfg.get("file_mounts") or {}).items():
        dst = posixpath.normpath(dst)
        if remote == dst or remote.startswith(dst + "/"):
            return (ROOT / src / posixpath.relpath(remote, dst)).resolve()
    return None


def _requirement(token):
    try:
        return Requirement(token)
    except InvalidRequirement:
        return None  # a path: ".", ".[s3]", "~/catalog_xai"


def _is_this_project(cfg, cwd, token):
    if _requirement(token) is not None:
        return False
    path = _local_path(cfg, posixpath.join(cwd, token.split("[", 1)[0]))
    return path is not None and path == ROOT.resolve()


def _pins(text, name):
    out = []
    for line in text.splitlines():
        req = _requirement(line.split("#", 1)[0].strip())
        if req is not None and req.name.lower() == name:
            out.append(req)
    return out


def _all_commands(cfg):
    return [c for key, cmds in cfg.items() if key.endswith("_commands") for c in (cmds or [])]


# ---------------------------------------------------------------- checks


def check_ray_validation(cfg):
    prepared = _prepared(cfg)  # raises jsonschema.ValidationError / ValueError if invalid
    aws_config = pytest.importorskip("ray.autoscaler._private.aws.config")  # needs boto3
    from ray.autoscaler._private.providers import _get_node_provider_cls

    assert _get_node_provider_cls(prepared["provider"]).__name__ == "AWSNodeProvider"
    # Ray's AWS bootstrap replaces "" and "latest_dlami" with its own, old AMI
    # (aws_config.DEFAULT_AMI_NAME); the image set here must reach EC2 unchanged.
    before = {k: t["node_config"].get("ImageId") for k, t in prepared["available_node_types"].items()}
    checked = copy.deepcopy(prepared)
    aws_config._check_ami(checked)
    after = {k: t["node_config"].get("ImageId") for k, t in checked["available_node_types"].items()}
    assert after == before, f"Ray would substitute {aws_config.DEFAULT_AMI_NAME!r}: {after}"
    return prepared


def check_gpu_workers(cfg):
    prepared = _prepared(cfg)
    gpu_types = {k: t for k, t in _worker_types(prepared).items() if t.get("resources", {}).get("GPU", 0) > 0}
    assert gpu_types, "no worker type offers a GPU"
    for name, t in _worker_types(prepared).items():
        assert t["resources"].get("GPU", 0) >= 1, f"{name}: resources.GPU must be >= 1"
        assert t["min_workers"] == 0, f"{name}: min_workers must be 0 (the autoscaler starts them)"
        assert t["max_workers"] >= 1, f"{name}: max_workers must allow at least one node"


def _image(node_type):
    return node_type["node_config"].get("ImageId", "")


def _gpu_image(image_id, docker_image):
    image_id = image_id.strip()
    is_dlami = image_id.lower() == "latest_dlami" or (image_id.startswith(DLAMI_SSM_PREFIX) and "gpu" in image_id)
    if docker_image:
        return is_dlami and "-gpu" in docker_image
    return is_dlami


def check_gpu_images(cfg):
    prepared = _prepared(cfg)
    docker = prepared.get("docker") or {}
    images = {}
    for name, t in prepared["available_node_types"].items():
        image = _image(t)
        key = "head_image" if name == prepared["head_node_type"] else "worker_image"
        docker_image = (t.get("docker") or {}).get(key) or docker.get(key) or docker.get("image")
        assert _gpu_image(image, docker_image), (
            f"{name}: ImageId {image!r} (docker {docker_image!r}) is not a GPU image with the NVIDIA "
            f"driver; use a Deep Learning AMI ({DLAMI_SSM_PREFIX}...gpu...)")
        images[name] = (image, docker_image)
    assert len(set(images.values())) == 1, f"head and workers must share one image (same Python, torch, Ray): {images}"


def check_torch_from_image(cfg, torch_spec):
    """The image's torch is inside pyproject's range, so pip keeps it instead of reinstalling."""
    prepared = _prepared(cfg)
    for name, t in prepared["available_node_types"].items():
        image = _image(t)
        m = re.search(r"gpu-pytorch-(\d+\.\d+)", image)
        assert m, f"{name}: {image!r} is not a PyTorch DLAMI: every node would download CUDA torch"
        assert Version(m.group(1) + ".0") in torch_spec, (
            f"{name}: the image's torch {m.group(1)} is outside pyproject's {torch_spec}: pip would replace it")


def check_worker_profiles(cfg):
    prepared = _prepared(cfg)
    head_cfg = prepared["available_node_types"][prepared["head_node_type"]]["node_config"]
    for name, t in _worker_types(prepared).items():
        profile = t["node_config"].get("IamInstanceProfile") or {}
        assert profile.get("Name") or profile.get("Arn"), (
            f"{name}: no IamInstanceProfile: workers cannot reach s3:// through the provider chain")
        if "IamInstanceProfile" not in head_cfg:
            # Ray creates its default profile for the head; the workers must name that one.
            aws_config = pytest.importorskip("ray.autoscaler._private.aws.config")
            name_or_arn = profile.get("Name") or profile["Arn"].rsplit("/", 1)[-1]
            assert name_or_arn == aws_config.DEFAULT_RAY_INSTANCE_PROFILE, (
                f"{name}: profile {name_or_arn!r} is not the one Ray creates "
                f"({aws_config.DEFAULT_RAY_INSTANCE_PROFILE!r})")
            source = inspect.getsource(aws_config._configure_iam_role)
            assert "AmazonS3FullAccess" in source, "Ray's default role no longer gets S3 access"


def check_ray_pin(cfg, constraints_text, installed=ray.__version__):
    pins = _pins(constraints_text, "ray")
    assert len(pins) == 1 and str(pins[0].specifier).startswith("=="), (
        f"scripts/constraints.txt must pin ray exactly once with ==: {pins}")
    pinned = str(pins[0].specifier)[2:]
    assert pinned == installed, f"constraints pin ray {pinned}, the tested install is {installed}"

    prepared = _prepared(cfg)
    seen = []  # (command, version the command installs Ray at, or None if unpinned)
    for cmd in _all_commands(prepared):
        for cwd, constraint_files, reqs, _ in _pip_installs(cmd):
            literal = [r for r in map(_requirement, reqs) if r is not None and r.name.lower() == "ray"]
            project = any(_is_this_project(prepared, cwd, tok) for tok in reqs)
            if not literal and not project:
                continue
            specs = [str(r.specifier) for r in literal]
            for path in constraint_files:
                local = _local_path(prepared, posixpath.join(cwd, path))
                assert local is not None and local.exists(), f"{cmd!r}: constraint file {path} is not mounted"
                specs += [str(r.specifier) for r in _pins(local.read_text(), "ray")]
            exact = {s[2:] for s in specs if s.startswith("==")}
            seen.append((cmd, exact.pop() if len(exact) == 1 else None))
    assert seen, "setup commands never install Ray (nor the package, which depends on it)"
    for cmd, version in seen:
        assert version == pinned, f"{cmd!r} installs Ray at {version or 'an unpinned version'}, not {pinned}"


def check_no_torch_install(cfg, constraints_text):
    prepared = _prepared(cfg)
    for cmd in _all_commands(prepared):
        for cwd, _constraints, reqs, req_files in _pip_installs(cmd):
            named = {r.name.lower() for r in map(_requirement, reqs) if r is not None}
            for path in req_files:
                local = _local_path(prepared, posixpath.join(cwd, path))
                if local is not None and local.exists():
                    named |= {p.name.lower() for name in TORCH_PACKAGES for p in _pins(local.read_text(), name)}
            assert not named & TORCH_PACKAGES, f"{cmd!r} pip-installs torch: the image's CUDA torch is to be kept"
    for name in TORCH_PACKAGES:
        assert not _pins(constraints_text, name), (
            f"scripts/constraints.txt pins {name}: pip would replace the image's build whenever they differ")


def check_launcher_essentials(cfg):
    prepared = _prepared(cfg)
    head_start = " ".join(prepared["head_start_ray_commands"])
    assert "--autoscaling-config=~/ray_bootstrap_config.yaml" in head_start, "the head would not autoscale"
    assert "--head" in head_start and "--dashboard-host=0.0.0.0" in head_start
    assert prepared["idle_timeout_minutes"] > 0
    for name, t in _worker_types(prepared).items():
        market = t["node_config"].get("InstanceMarketOptions", {}).get("MarketType")
        assert market == "spot", f"{name}: GPU workers run on spot"
    checkout = _local_path(prepared, "~/catalog_xai")
    assert checkout == ROOT.resolve(), "file_mounts must put this checkout at ~/catalog_xai"
    assert ".gitignore" in (prepared.get("rsync_filter") or []), "the local .venv would be copied to every node"


def check_setup_sh(text):
    installs = [i for line in text.splitlines() if not line.lstrip().startswith("#")
                for i in _pip_installs(line) if any(r.startswith(".") for r in i[2])]
    assert installs, "scripts/setup.sh does not install the package"
    for _cwd, constraint_files, reqs, _ in installs:
        assert "scripts/constraints.txt" in constraint_files, (
            f"scripts/setup.sh installs {reqs} without -c scripts/constraints.txt")


# ---------------------------------------------------------------- the tests


def test_ray_validates_cluster_yaml_as_ray_up_does():
    prepared = check_ray_validation(_config())
    assert prepared["head_node_type"] in prepared["available_node_types"]


def test_gpu_workers_scale_from_zero():
    check_gpu_workers(_config())


def test_every_node_type_has_the_same_gpu_image():
    check_gpu_images(_config())


def test_torch_comes_from_the_image():
    check_torch_from_image(_config(), _torch_spec())
    check_no_torch_install(_config(), CONSTRAINTS.read_text())


def test_workers_have_an_instance_profile():
    check_worker_profiles(_config())


def test_one_ray_version_on_laptop_and_cluster():
    check_ray_pin(_config(), CONSTRAINTS.read_text())
    check_setup_sh(SETUP_SH.read_text())


def test_launcher_essentials():
    check_launcher_essentials(_config())


# ---------------------------------------------------------------- each check can fail


def _set(path, value):
    def mutate(cfg):
        node = cfg
        for key in path[:-1]:
            node = node[key]
        if value is None:
            node.pop(path[-1])
        else:
            node[path[-1]] = value
        return cfg
    return mutate


def _edit_commands(key, fn):
    def mutate(cfg):
        cfg[key] = fn(list(cfg.get(key) or []))
        return cfg
    return mutate


_WORKER = ("available_node_types", "gpu_worker")
_HEAD = ("available_node_types", "head")
_UBUNTU = "ami-0c7217cdde317cfec"
_BASE_DLAMI = "resolve:ssm:/aws/service/deeplearning/ami/x86_64/base-oss-nvidia-driver-gpu-ubuntu-24.04/latest/ami-id"


def _every_image(fn):
    def mutate(cfg):
        for t in cfg["available_node_types"].values():
            t["node_config"]["ImageId"] = fn(t["node_config"]["ImageId"])
        return cfg
    return mutate


BROKEN = {
    "unknown key": (check_ray_validation, _set(("idle_timeout_minute",), 5)),
    "no head type": (check_ray_validation, _set(("head_node_type",), "cpu_head")),
    "latest_dlami": (check_ray_validation, _every_image(lambda image: "latest_dlami")),
    "gpu min_workers 1": (check_gpu_workers, _set((*_WORKER, "min_workers"), 1)),
    "gpu worker without GPU": (check_gpu_workers, _set((*_WORKER, "resources"), {"CPU": 4, "GPU": 0})),
    "plain Ubuntu worker": (check_gpu_images, _set((*_WORKER, "node_config", "ImageId"), _UBUNTU)),
    "plain Ubuntu head": (check_gpu_images, _set((*_HEAD, "node_config", "ImageId"), _UBUNTU)),
    "CPU docker image": (check_gpu_images, _set(("docker",), {"image": "rayproject/ray:2.60.0-py311-cpu",
                                                             "container_name": "ray"})),
    "base DLAMI, no torch": (check_torch_from_image, _every_image(lambda image: _BASE_DLAMI)),
    "torch line outside range": (check_torch_from_image, _every_image(
        lambda image: re.sub(r"pytorch-\d+\.\d+", "pytorch-2.15", image))),
    "no worker profile": (check_worker_profiles, _set((*_WORKER, "node_config", "IamInstanceProfile"), None)),
    "other worker profile": (check_worker_profiles, _set((*_WORKER, "node_config", "IamInstanceProfile"),
                                                         {"Name": "some-profile"})),
    "no constraints": (check_ray_pin, _edit_commands("setup_commands", lambda cmds: [
        c.replace("-c scripts/constraints.txt ", "") for c in cmds])),
    "other Ray pinned": (check_ray_pin, _edit_commands("worker_setup_commands", lambda cmds: cmds + [
        "python -m pip install 'ray[default]==2.59.0'"])),
    "unpinned Ray upgrade": (check_ray_pin, _edit_commands("head_setup_commands", lambda cmds: cmds + [
        "pip install -U ray"])),
    "no install at all": (check_ray_pin, _edit_commands("setup_commands", lambda cmds: [
        c for c in cmds if "pip install" not in c])),
    "torch in setup": (check_no_torch_install, _edit_commands("setup_commands", lambda cmds: cmds + [
        'python -m pip install "torch>=2.2,<2.15"'])),
    "torch on workers": (check_no_torch_install, _edit_commands("worker_setup_commands", lambda cmds: cmds + [
        "cd ~/catalog_xai && pip3 install -q torch==2.13.0 && echo done"])),
    "no autoscaling config": (check_launcher_essentials, _edit_commands("head_start_ray_commands", lambda cmds: [
        c.replace(" --autoscaling-config=~/ray_bootstrap_config.yaml", "") for c in cmds])),
    "on-demand workers": (check_launcher_essentials, _set((*_WORKER, "node_config", "InstanceMarketOptions"), None)),
    "no rsync filter": (check_launcher_essentials, _set(("rsync_filter",), None)),
}


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_each_check_fails_on_a_broken_config(name):
    check, mutate = BROKEN[name]
    cfg = mutate(copy.deepcopy(_config()))
    args = {check_ray_pin: (CONSTRAINTS.read_text(),), check_no_torch_install: (CONSTRAINTS.read_text(),),
            check_torch_from_image: (_torch_spec(),)}.get(check, ())
    with pytest.raises((AssertionError, jsonschema.ValidationError, ValueError)):
        check(cfg, *args)


@pytest.mark.parametrize("constraints, setup_sh", [
    ("ray==2.59.0\n", None),
    ("ray>=2.60\n", None),
    ("ray==2.60.0\ntorch==2.13.0\n", None),
    (None, 'python -m pip install -q -e ".[test]"\n'),
])
def test_pin_checks_fail_on_broken_files(constraints, setup_sh):
    with pytest.raises(AssertionError):
        if constraints is not None:
            check_ray_pin(_config(), constraints)
            check_no_torch_install(_config(), constraints)
        else:
            check_setup_sh(setup_sh)
