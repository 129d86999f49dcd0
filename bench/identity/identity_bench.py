"""Sign-ins and identity-pool credentials per second, tandem vs. moto.

Started by bench/identity/run.sh with the URLs of a running `tandem serve`
(one region, a user pool and an identity pool in its tandem.toml) and a
running `moto_server`. For each server it sets up the same pool, app client,
identity pool and users (boto3, admin calls), then runs each case with
BENCH_PROCS worker processes for BENCH_DURATION seconds:

  password   InitiateAuth USER_PASSWORD_AUTH (tandem: an argon2id check)
  srp        InitiateAuth USER_SRP_AUTH + RespondToAuthChallenge
             PASSWORD_VERIFIER, the client side computed by pycognito (the
             same client work against both servers; moto checks no proof)
  credentials  GetCredentialsForIdentity with an ID token (tandem: an RS256
             verification and a session minted)

Requests are raw unsigned JSON over keep-alive connections (as Amplify
sends them), so the Python client costs as little as it can; where it still
uses more CPU than the server (SRP: the client's own 3072-bit arithmetic)
the ratio says so, and the server's CPU time per operation is the fairer
figure. Prints one table and the tandem/moto ratios; JSON lines go to
bench/.work/identity-results.jsonl.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import time
from pathlib import Path

import boto3
import requests
from botocore.config import Config
from pycognito.aws_srp import AWSSRP

PASSWORD = "Bench-Passw0rd!"
SIGNING_REGION = "us-east-1"
USER_POOL_TARGET = "AWSCognitoIdentityProviderService."
IDENTITY_TARGET = "AWSCognitoIdentityService."


def admin_client(service: str, url: str, key: str, secret: str):
    return boto3.session.Session().client(
        service, endpoint_url=url, region_name=SIGNING_REGION, aws_access_key_id=key,
        aws_secret_access_key=secret, config=Config(retries={"total_max_attempts": 1, "mode": "standard"}),
    )


def setup(server: str, url: str, key: str, secret: str, users: int, tandem_pool: dict) -> dict:
    """Pool, client, identity pool and `users` confirmed users; returns what workers need."""
    idp = admin_client("cognito-idp", url, key, secret)
    if server == "moto":
        pool_id = idp.create_user_pool(PoolName="photos")["UserPool"]["Id"]
        client_id = idp.create_user_pool_client(
            UserPoolId=pool_id, ClientName="web",
            ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
        )["UserPoolClient"]["ClientId"]
        identity = admin_client("cognito-identity", url, key, secret)
        identity_pool = identity.create_identity_pool(
            IdentityPoolName="photos", AllowUnauthenticatedIdentities=False,
            CognitoIdentityProviders=[{"ProviderName": f"cognito-idp.us-east-1.amazonaws.com/{pool_id}", "ClientId": client_id}],
        )["IdentityPoolId"]
    else:
        pool_id, client_id, identity_pool = tandem_pool["pool"], tandem_pool["client"], tandem_pool["identity_pool"]
    names = [f"bench-{i}" for i in range(users)]
    for name in names:
        idp.admin_create_user(UserPoolId=pool_id, Username=name, TemporaryPassword="Temp-Passw0rd!1",
                              MessageAction="SUPPRESS")
        idp.admin_set_user_password(UserPoolId=pool_id, Username=name, Password=PASSWORD, Permanent=True)
    first = call(requests.Session(), url, USER_POOL_TARGET + "InitiateAuth", {
        "ClientId": client_id, "AuthFlow": "USER_PASSWORD_AUTH",
        "AuthParameters": {"USERNAME": names[0], "PASSWORD": PASSWORD},
    })
    id_token = first["AuthenticationResult"]["IdToken"]
    issuer = json.loads(_b64(id_token.split(".")[1]))["iss"]
    logins = {issuer.split("://", 1)[-1]: id_token}
    identity_id = call(requests.Session(), url, IDENTITY_TARGET + "GetId",
                       {"IdentityPoolId": identity_pool, "Logins": logins})["IdentityId"]
    return {"url": url, "pool": pool_id, "client": client_id, "users": names,
            "logins": logins, "identity_id": identity_id}


def _b64(part: str) -> bytes:
    import base64
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def call(session: requests.Session, url: str, target: str, body: dict) -> dict:
    r = session.post(url, data=json.dumps(body), timeout=30, headers={
        "X-Amz-Target": target, "Content-Type": "application/x-amz-json-1.1"})
    if r.status_code != 200:
        raise RuntimeError(f"{target}: {r.status_code} {r.text[:200]}")
    return r.json()


def one_password(s, env, i):
    call(s, env["url"], USER_POOL_TARGET + "InitiateAuth", {
        "ClientId": env["client"], "AuthFlow": "USER_PASSWORD_AUTH",
        "AuthParameters": {"USERNAME": env["users"][i % len(env["users"])], "PASSWORD": PASSWORD}})


def one_srp(s, env, i):
    user = env["users"][i % len(env["users"])]
    srp = AWSSRP(username=user, password=PASSWORD, pool_id=env["pool"], client_id=env["client"], client=object())
    params = srp.get_auth_params()
    challenge = call(s, env["url"], USER_POOL_TARGET + "InitiateAuth", {
        "ClientId": env["client"], "AuthFlow": "USER_SRP_AUTH", "AuthParameters": params})
    responses = srp.process_challenge(challenge["ChallengeParameters"], params)
    answer = call(s, env["url"], USER_POOL_TARGET + "RespondToAuthChallenge", {
        "ClientId": env["client"], "ChallengeName": "PASSWORD_VERIFIER", "ChallengeResponses": responses})
    if "AuthenticationResult" not in answer:
        raise RuntimeError(f"SRP sign-in gave no tokens: {answer}")


def one_credentials(s, env, i):
    call(s, env["url"], IDENTITY_TARGET + "GetCredentialsForIdentity",
         {"IdentityId": env["identity_id"], "Logins": env["logins"]})


CASES = {"password": one_password, "srp": one_srp, "credentials": one_credentials}


def worker(case: str, env: dict, duration: float, seed: int, out):
    s = requests.Session()
    done, errors, lat = 0, 0, []
    deadline = time.monotonic() + duration
    i = seed
    cpu0 = time.process_time()
    while time.monotonic() < deadline:
        t = time.perf_counter()
        try:
            CASES[case](s, env, i)
            done += 1
            lat.append(time.perf_counter() - t)
        except Exception as e:  # noqa: BLE001 - counted, first one reported
            if errors == 0:
                print(f"[bench] {case} error: {e}", flush=True)
            errors += 1
        i += 7
    out.put({"done": done, "errors": errors, "lat": lat, "client_cpu": time.process_time() - cpu0})


def server_cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_case(case: str, env: dict, procs: int, duration: float, pid: int) -> dict:
    q = mp.Queue()
    cpu0 = server_cpu(pid)
    started = time.monotonic()
    workers = [mp.Process(target=worker, args=(case, env, duration, k, q)) for k in range(procs)]
    for w in workers:
        w.start()
    results = [q.get() for _ in workers]
    for w in workers:
        w.join()
    elapsed = time.monotonic() - started
    lat = sorted(x for r in results for x in r["lat"])
    done = sum(r["done"] for r in results)
    pct = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))] * 1000 if lat else 0.0  # noqa: E731
    used = server_cpu(pid) - cpu0
    return {"case": case, "ops": done, "per_sec": done / duration, "p50_ms": pct(0.5), "p99_ms": pct(0.99),
            "errors": sum(r["errors"] for r in results),
            "server_cpu_pct": 100 * used / elapsed,
            "server_cpu_ms_per_op": 1000 * used / done if done else float("nan"),
            "client_cpu_pct": 100 * sum(r["client_cpu"] for r in results) / elapsed}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tandem", required=True)
    ap.add_argument("--tandem-pid", type=int, required=True)
    ap.add_argument("--moto", required=True)
    ap.add_argument("--moto-pid", type=int, required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--secret", required=True)
    ap.add_argument("--tandem-pool", required=True, help="JSON: pool, client, identity_pool")
    ap.add_argument("--cases", default="password srp credentials")
    ap.add_argument("--procs", type=int, default=4)
    ap.add_argument("--duration", type=float, default=10)
    ap.add_argument("--users", type=int, default=20)
    ap.add_argument("--results", required=True)
    args = ap.parse_args()

    servers = {"tandem": (args.tandem, args.tandem_pid), "moto": (args.moto, args.moto_pid)}
    envs = {name: setup(name, url, args.key, args.secret, args.users, json.loads(args.tandem_pool))
            for name, (url, _) in servers.items()}
    rows = []
    for case in args.cases.split():
        for name, (_, pid) in servers.items():
            row = {"server": name, **run_case(case, envs[name], args.procs, args.duration, pid)}
            rows.append(row)
            print(f"[bench] {name:6} {case:11} {row['per_sec']:8.1f}/s", flush=True)
    Path(args.results).parent.mkdir(parents=True, exist_ok=True)
    with open(args.results, "a") as f:
        for row in rows:
            f.write(json.dumps(row) + "\n")

    print()
    print(f"{'server':8} {'case':12} {'ops/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7} {'server cpu':>11} "
          f"{'cpu ms/op':>10} {'client cpu':>11}")
    for r in rows:
        print(f"{r['server']:8} {r['case']:12} {r['per_sec']:9.1f} {r['p50_ms']:8.2f} {r['p99_ms']:8.2f} "
              f"{r['errors']:7d} {r['server_cpu_pct']:10.0f}% {r['server_cpu_ms_per_op']:10.2f} {r['client_cpu_pct']:10.0f}%")
    print()
    by = {(r["server"], r["case"]): r for r in rows}
    for case in args.cases.split():
        t, m = by.get(("tandem", case)), by.get(("moto", case))
        ratio = t["per_sec"] / m["per_sec"] if t and m and m["per_sec"] else float("nan")
        bound = "client-bound (the client used more CPU than the server)" if t and t["client_cpu_pct"] > t["server_cpu_pct"] else ""
        print(f"tandem/moto {case:12} {ratio:6.2f}x  {bound}")


if __name__ == "__main__":
    main()
