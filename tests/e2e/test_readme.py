"""`tandem dev` and the README agree, and the CLI is honest about where it points.

One `tandem dev` for the module, started from a fresh, empty directory on two
free ports (the README's 9000/9001 are replaced by them in the commands, and
nothing else is changed). The README's `sh` blocks of "Trying it",
"Replication in two minutes" and "Applications, fencing and failover" then run
in that order, each with `bash -e` in that directory (with `tandem` on PATH and
the credentials `tandem dev` printed), and each must succeed.

Also: `tandem dev` writes ./tandem.toml (marked as its own), labels its plan as
the demo setup and logs without ANSI colours when not on a terminal; `--port`
past 65534 is refused; a second `tandem dev` on the same data directory says
what to do; the operator commands with no tandem.toml say what to pass
instead of falling back to the dev layout; `--endpoint` discovers the other
region and `--output json` is JSON.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest
import requests

from e2e_helpers import free_port

REPO_ROOT = Path(__file__).resolve().parents[2]
SECTIONS = ("Trying it", "Replication in two minutes", "Applications, fencing and failover")
ANSI = re.compile(r"\x1b\[")


def readme_blocks() -> list[tuple[str, str]]:
    """The `sh` blocks of SECTIONS, in README order, as (section, text)."""
    text = (REPO_ROOT / "README.md").read_text()
    out = []
    for section in SECTIONS:
        body = text.split(f"## {section}\n", 1)[1].split("\n## ", 1)[0]
        out += [(section, b) for b in re.findall(r"```sh\n(.*?)```", body, re.S)]
    return out


def two_free_ports() -> int:
    for _ in range(50):
        p = free_port()
        if p < 65534:
            try:
                import socket

                with socket.socket() as s:
                    s.bind(("127.0.0.1", p + 1))
                return p
            except OSError:
                continue
    raise AssertionError("no two adjacent free ports")


class Dev:
    def __init__(self, binary: Path, cwd: Path):
        self.binary, self.cwd, self.port = binary, cwd, two_free_ports()
        self.out = open(cwd / "dev.out", "w+")
        self.err = open(cwd / "dev.err", "w+")
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "TANDEM_", "NO_COLOR"))}
        self.proc = subprocess.Popen(
            [str(binary), "dev", "--port", str(self.port)], cwd=cwd, stdout=self.out, stderr=self.err, env=env
        )
        deadline = time.monotonic() + 60
        while "regions running" not in self.stdout():
            assert self.proc.poll() is None, f"tandem dev exited: {self.stdout()}\n{self.stderr()}"
            assert time.monotonic() < deadline, f"tandem dev did not come up: {self.stdout()}\n{self.stderr()}"
            time.sleep(0.1)

    def stdout(self) -> str:
        return (self.cwd / "dev.out").read_text()

    def stderr(self) -> str:
        return (self.cwd / "dev.err").read_text()

    def exports(self) -> dict[str, str]:
        return dict(re.findall(r"^export (AWS_[A-Z_]+)=(\S+)$", self.stdout(), re.M))

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=30)


@pytest.fixture(scope="module")
def dev(tandem_bin, tmp_path_factory):
    d = Dev(tandem_bin, tmp_path_factory.mktemp("readme"))
    try:
        yield d
    finally:
        if d.proc.poll() is None:
            d.stop()


def run(binary: Path, *args: str, cwd: Path, env: dict | None = None, timeout: float = 60):
    base = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "TANDEM_"))}
    return subprocess.run([str(binary), *args], cwd=cwd, env={**base, **(env or {})}, capture_output=True,
                          text=True, timeout=timeout)


def test_dev_writes_its_tandem_toml_and_labels_the_demo_plan(dev):
    toml = (dev.cwd / "tandem.toml").read_text()
    assert toml.startswith("# Written by `tandem dev`"), toml
    assert f'listen = "127.0.0.1:{dev.port + 1}"' in toml and "[[apps]]" in toml, toml
    assert "demo setup plan:" in dev.stdout() and "\nplan:" not in dev.stdout(), dev.stdout()
    assert dev.exports()["AWS_ACCESS_KEY_ID"] == "TANDEMDEVACCESSKEY01", dev.stdout()
    assert not ANSI.search(dev.stderr()), "colour codes in a log that is not a terminal"


def test_operator_commands_without_a_config_say_what_to_pass(tandem_bin, tmp_path):
    out = run(tandem_bin, "status", cwd=tmp_path)
    assert out.returncode != 0, out.stdout
    assert "no ./tandem.toml here: pass --config PATH, or --endpoint URL" in out.stderr, out.stderr
    assert out.stdout == "", "it must not have talked to any region"


def test_endpoint_discovers_the_other_region_and_json_output_is_json(dev, tandem_bin, tmp_path):
    url = f"http://127.0.0.1:{dev.port}"
    out = run(tandem_bin, "status", "--endpoint", url, "--output", "json", cwd=tmp_path, env=dev.exports())
    assert out.returncode == 0, out.stdout + out.stderr
    doc = json.loads(out.stdout)
    assert [r["name"] for r in doc["regions"]] == ["us-east", "ap-tokyo"], doc
    assert doc["regions"][1]["url"] == f"http://127.0.0.1:{dev.port + 1}" and doc["ok"] is True, doc
    assert doc["regions"][1]["apps"]["photos"]["State"] == "active", doc
    state = run(tandem_bin, "state", "get", "photos", "--endpoint", url, "--output", "json", cwd=tmp_path,
                env=dev.exports())
    assert state.returncode == 0, state.stderr
    assert set(json.loads(state.stdout)["regions"]) == {"us-east", "ap-tokyo"}, state.stdout
    backlog = run(tandem_bin, "replication", "backlog", "--endpoint", url, "--output", "json", cwd=tmp_path,
                  env=dev.exports())
    assert backlog.returncode == 0 and set(json.loads(backlog.stdout)["regions"]) == {"us-east", "ap-tokyo"}


def test_dev_port_is_validated_and_a_locked_data_dir_says_what_to_do(dev, tandem_bin):
    out = run(tandem_bin, "dev", "--port", "65535", cwd=dev.cwd)
    assert out.returncode != 0 and "65535" in out.stderr, out.stderr
    other = two_free_ports()
    out = run(tandem_bin, "dev", "--port", str(other), cwd=dev.cwd, timeout=60)
    assert out.returncode != 0, out.stdout + out.stderr
    assert "locked by another process" in out.stderr and "--data-dir" in out.stderr, out.stderr


def test_readme_commands_run_in_order_from_a_fresh_directory(dev, tandem_bin):
    (dev.cwd / "cat.jpg").write_bytes(b"\xff\xd8\xff" + os.urandom(2000))
    bin_dir = dev.cwd / "bin"
    bin_dir.mkdir(exist_ok=True)
    if not (bin_dir / "tandem").exists():
        (bin_dir / "tandem").symlink_to(tandem_bin)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "TANDEM_"))}
    env.update(dev.exports(), PATH=f"{bin_dir}:{env['PATH']}", NO_COLOR="1")
    blocks = readme_blocks()
    assert len(blocks) == 3, [s for s, _ in blocks]
    for section, block in blocks:
        script = block.replace("127.0.0.1:9000", f"127.0.0.1:{dev.port}").replace(
            "127.0.0.1:9001", f"127.0.0.1:{dev.port + 1}")
        t0 = time.monotonic()
        out = subprocess.run(["bash", "-e", "-o", "pipefail", "-c", script], cwd=dev.cwd, env=env,
                             capture_output=True, text=True, timeout=180)
        took = time.monotonic() - t0
        assert out.returncode == 0, f"README section {section!r} failed after {took:.1f}s:\n{script}\n" \
                                    f"--- stdout\n{out.stdout}\n--- stderr\n{out.stderr}"
        print(f"\nREADME {section!r}: {took:.1f} s, {len(out.stdout.splitlines())} lines of output")
    assert requests.get(f"http://127.0.0.1:{dev.port}/health", timeout=5).status_code == 200
    assert dev.stop() == 0, dev.stderr()[-2000:]
