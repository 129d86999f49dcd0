"""`tandem dns` health checks over HTTPS, against a real `tandem edge` with TLS.

Two real regions behind one `tandem edge` node with two TLS distributions:
127.0.0.1 (the default certificate, as no SNI is sent for an IP) serves
us-east with a certificate from the test's CA; `localhost` serves ap-tokyo
with a certificate from another CA. The certificates are made here with the
`openssl` CLI. The DNS server checks us-east at `https://127.0.0.1:<edge>`
and ap-tokyo at `https://localhost:<edge>`, so each check's `/health` goes
through TLS and the edge to the region, whose body names it.

* `ca_file` = the test CA: us-east verifies and is healthy, ap-tokyo's
  certificate does not (UnknownIssuer, shown in /status, `tandem status` and
  the log): the failover name whose primary is ap-tokyo answers the
  secondary, us-east; the one whose primary is us-east answers us-east.
* `ca_file` = a bundle of both CAs: both are healthy and each failover name
  answers its primary (so the failure above was the certificate alone).
* No `ca_file` (the webpki roots): neither private CA verifies.
"""

from __future__ import annotations

import random
import shutil
import subprocess
from pathlib import Path

import pytest
import requests

from e2e_helpers import KEYS, free_port
from regions import RegionPair, wait_until
from test_dns import Dns

ADDR = {"us-east": "192.0.2.1", "ap-tokyo": "192.0.2.2"}
ZONE = "tls.test"


def openssl(*args: str, cwd: Path) -> None:
    run = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True, timeout=30)
    assert run.returncode == 0, run.stderr


def make_ca(directory: Path, name: str) -> None:
    """`name`.pem and `name`.key: a CA certificate and its key."""
    openssl(
        "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
        "-keyout", f"{name}.key", "-out", f"{name}.pem", "-days", "2", "-subj", f"/CN=tandem test {name}",
        cwd=directory,
    )  # fmt: skip


def make_leaf(directory: Path, name: str, ca: str, sans: str) -> None:
    """`name`.pem and `name`.key: a server certificate for `sans`, issued by `ca`."""
    (directory / f"{name}.ext").write_text(
        f"subjectAltName={sans}\nbasicConstraints=critical,CA:FALSE\n"
        "keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n"
    )
    openssl(
        "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
        "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={name}",
        cwd=directory,
    )  # fmt: skip
    openssl(
        "x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.pem", "-CAkey", f"{ca}.key",
        "-set_serial", str(random.randrange(1, 2**62)), "-days", "2", "-extfile", f"{name}.ext", "-out", f"{name}.pem",
        cwd=directory,
    )  # fmt: skip


def edge_section(port: int, certs: Path) -> str:
    def distribution(name: str, host: str, region: str) -> str:
        return f"""
[[edge.distributions]]
name = "{name}"
hosts = ["{host}"]
tls = {{ cert = "{certs / name}.pem", key = "{certs / name}.key" }}
[[edge.distributions.behaviors]]
sign = false
origin = {{ kind = "region", region = "{region}" }}
"""

    return f"""
[edge]
access_key_id = "{KEYS["admin"].access_key_id}"

[[edge.nodes]]
name = "e"
listen = "127.0.0.1:{port}"
{distribution("east", "127.0.0.1", "us-east")}{distribution("tokyo", "localhost", "ap-tokyo")}"""


def dns_section(edge_port: int, port: int, http_port: int, ca_file: Path | None) -> str:
    urls = {"us-east": f"https://127.0.0.1:{edge_port}", "ap-tokyo": f"https://localhost:{edge_port}"}
    regions = "".join(
        f'\n[[dns.regions]]\nname = "{n}"\nurl = "{url}"\naddresses = ["{ADDR[n]}"]\n' for n, url in urls.items()
    )
    ca = f'ca_file = "{ca_file}"\n' if ca_file else ""
    return f"""
[dns]
listen = "127.0.0.1:{port}"
http_listen = "127.0.0.1:{http_port}"
{ca}
[dns.health]
interval_secs = 0.2
timeout_secs = 1.0
failure_threshold = 2
recovery_threshold = 2
{regions}
[[dns.zones]]
name = "{ZONE}"

[[dns.zones.records]]
name = "east-first"
failover = {{ primary = "us-east", secondary = "ap-tokyo" }}

[[dns.zones.records]]
name = "tokyo-first"
failover = {{ primary = "ap-tokyo", secondary = "us-east" }}
"""


class Deployment:
    def __init__(self, binary: Path, root: Path):
        self.certs = root / "certs"
        self.certs.mkdir(parents=True)
        for ca in ("ca", "other-ca"):
            make_ca(self.certs, ca)
        make_leaf(self.certs, "east", "ca", "IP:127.0.0.1")
        make_leaf(self.certs, "tokyo", "other-ca", "DNS:localhost")
        (self.certs / "both-cas.pem").write_text((self.certs / "ca.pem").read_text() + (self.certs / "other-ca.pem").read_text())
        self.edge_port = free_port()
        self.pair = RegionPair(binary, root / "regions")
        self.base = self.pair.config_path.read_text() + edge_section(self.edge_port, self.certs)
        self.dns: list[Dns] = []
        self.edge: subprocess.Popen | None = None
        self.edge_log = open(root / "edge.log", "w")

    def start(self) -> None:
        self.pair.start()
        self.edge = subprocess.Popen(
            [str(self.pair.binary), "edge", "--config", str(self.write("edge.toml", "")), "--name", "e"],
            stdout=self.edge_log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        # Python's own TLS client, trusting the test CA, sees the edge up (an independent check of the setup).
        ca = str(self.certs / "ca.pem")
        up = lambda: requests.get(f"https://127.0.0.1:{self.edge_port}/metrics", verify=ca, timeout=1).ok  # noqa: E731
        wait_until(up, 15, what="tandem edge up over TLS")

    def write(self, name: str, extra: str) -> Path:
        path = self.pair.root / name
        path.write_text(self.base + extra)
        return path

    def start_dns(self, name: str, ca_file: Path | None) -> Dns:
        port, http_port = free_port(), free_port()
        config = self.write(f"{name}.toml", dns_section(self.edge_port, port, http_port, ca_file))
        dns = Dns(self.pair, port, http_port, config=config, log=f"{name}.log", zone=ZONE)
        self.dns.append(dns)
        return dns

    def close(self):
        for d in self.dns:
            d.close()
        if self.edge is not None:
            self.edge.terminate()
            try:
                self.edge.wait(10)
            except subprocess.TimeoutExpired:
                self.edge.kill()
        self.edge_log.close()
        self.pair.close()


@pytest.fixture(scope="module")
def deployment(tandem_bin, tmp_path_factory):
    assert shutil.which("dig"), "dig is not installed: `source scripts/dig.sh` installs it (scripts/test.sh does)"
    assert shutil.which("openssl"), "the openssl CLI makes the test certificates"
    d = Deployment(tandem_bin, tmp_path_factory.mktemp("dns-https"))
    try:
        d.start()
        yield d
    finally:
        d.close()


def regions(dns: Dns) -> dict[str, dict]:
    return {r["region"]: r for r in dns.status_json()["regions"]}


def wait_checked(dns: Dns, want: dict[str, bool]) -> dict[str, dict]:
    """Waits until every region has been checked at least 3 times with the wanted health."""

    def settled():
        seen = regions(dns)
        return all(seen[n]["checks"] >= 3 and seen[n]["healthy"] == h for n, h in want.items()) and seen

    return wait_until(settled, 15, interval=0.1, what=f"DNS health {want}")


def test_a_region_whose_certificate_does_not_verify_is_unhealthy_and_its_failover_name_answers_the_secondary(deployment):
    dns = deployment.start_dns("dns-ca", deployment.certs / "ca.pem")
    seen = wait_checked(dns, {"us-east": True, "ap-tokyo": False})
    assert seen["us-east"]["last_error"] is None and seen["us-east"]["failures"] == 0, seen
    assert seen["us-east"]["latency_ms"] > 0, seen
    print(f"\nHTTPS check of us-east through the edge: {seen['us-east']['latency_ms']:.2f} ms (smoothed)")
    tokyo_error = seen["ap-tokyo"]["last_error"]
    assert "invalid peer certificate: UnknownIssuer" in tokyo_error, seen
    assert seen["ap-tokyo"]["failures"] == seen["ap-tokyo"]["checks"], "no check of ap-tokyo ever passed"
    assert dns.short(f"east-first.{ZONE}") == [ADDR["us-east"]]
    assert dns.short(f"tokyo-first.{ZONE}") == [ADDR["us-east"]], "ap-tokyo is unhealthy: the secondary answers"
    wait_until(lambda: "UnknownIssuer" in dns.logs(), 5, what="the reason in the log")
    assert "region is unhealthy" in dns.logs() and "ap-tokyo" in dns.logs()
    status = deployment.pair.tandem("status", config=deployment.pair.root / "dns-ca.toml")
    assert "UnknownIssuer" in status.stdout, status.stdout + status.stderr


def test_both_regions_are_healthy_when_the_ca_file_holds_both_cas(deployment):
    dns = deployment.start_dns("dns-both", deployment.certs / "both-cas.pem")
    seen = wait_checked(dns, {"us-east": True, "ap-tokyo": True})
    assert all(r["failures"] == 0 for r in seen.values()), seen
    assert dns.short(f"east-first.{ZONE}") == [ADDR["us-east"]]
    assert dns.short(f"tokyo-first.{ZONE}") == [ADDR["ap-tokyo"]], "the primary answers once its certificate verifies"


def test_without_a_ca_file_private_certificates_do_not_verify_against_the_webpki_roots(deployment):
    dns = deployment.start_dns("dns-webpki", None)
    seen = wait_checked(dns, {"us-east": False, "ap-tokyo": False})
    for r in seen.values():
        assert "invalid peer certificate: UnknownIssuer" in r["last_error"], seen
    both = sorted(dns.short(f"tokyo-first.{ZONE}"))
    assert both == sorted(ADDR.values()), "every region unhealthy: the name answers with all of them"
