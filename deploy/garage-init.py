#!/usr/bin/env python3
"""Makes a fresh Garage cluster ready for Berth through Garage's admin API (v2): connects the
nodes, gives each a storage role (replication factor 3 keeps every block on every node), creates
the bucket and imports the access key. Safe to run again: what is already done is left alone.

    garage-init.py --admin http://garage1:3903,http://garage2:3903,http://garage3:3903 \
        --rpc garage1:3901,garage2:3901,garage3:3901 --token ADMIN_TOKEN \
        --bucket berth --key-id GK... --secret HEX

Used by docker-compose.yml's scaled profile and by scripts/lib/garage.sh (so every test run
exercises it). Only the Python standard library.
"""

import argparse
import json
import sys
import time
import urllib.error
import urllib.request


def call(base, token, method, path, body=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(base + path, data=data, method=method)
    req.add_header("Authorization", f"Bearer {token}")
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            text = resp.read().decode()
            return resp.status, (json.loads(text) if text else None)
    except urllib.error.HTTPError as e:
        text = e.read().decode()
        try:
            return e.code, json.loads(text)
        except ValueError:
            return e.code, text


def ok(base, token, method, path, body=None):
    status, answer = call(base, token, method, path, body)
    if status != 200:
        sys.exit(f"garage-init: {method} {path} on {base}: {status} {answer}")
    return answer


def wait_up(base, token):
    for _ in range(300):
        try:
            status, _ = call(base, token, "GET", "/v2/GetNodeInfo?node=self")
            if status == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    sys.exit(f"garage-init: {base} did not answer within 60 s")


def node_id(base, token):
    answer = ok(base, token, "GET", "/v2/GetNodeInfo?node=self")
    (info,) = answer["success"].values()
    return info["nodeId"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--admin", required=True, help="comma-separated admin API URLs, one per node")
    ap.add_argument("--rpc", required=True, help="comma-separated host:port RPC addresses, same order")
    ap.add_argument("--token", required=True)
    ap.add_argument("--bucket", required=True)
    ap.add_argument("--key-id", required=True)
    ap.add_argument("--secret", required=True)
    ap.add_argument("--capacity", type=int, default=1 << 30, help="bytes per node")
    a = ap.parse_args()
    admins, rpcs = a.admin.split(","), a.rpc.split(",")
    if len(admins) != len(rpcs):
        sys.exit("garage-init: --admin and --rpc name different numbers of nodes")
    first = admins[0]
    for base in admins:
        wait_up(base, a.token)
    ids = [node_id(base, a.token) for base in admins]
    ok(first, a.token, "POST", "/v2/ConnectClusterNodes",
       [f"{i}@{rpc}" for i, rpc in zip(ids[1:], rpcs[1:])])

    layout = ok(first, a.token, "GET", "/v2/GetClusterLayout")
    have = {r["id"] for r in layout.get("roles", [])}
    if set(ids) - have:
        ok(first, a.token, "POST", "/v2/UpdateClusterLayout", {"roles": [
            {"id": i, "zone": "dc1", "capacity": a.capacity, "tags": []}
            for i in ids if i not in have]})
        ok(first, a.token, "POST", "/v2/ApplyClusterLayout", {"version": layout["version"] + 1})

    # The new layout takes a moment to reach every node; a bucket needs it.
    bucket = None
    for _ in range(150):
        status, answer = call(first, a.token, "GET", f"/v2/GetBucketInfo?globalAlias={a.bucket}")
        if status == 200:
            bucket = answer["id"]
            break
        status, answer = call(first, a.token, "POST", "/v2/CreateBucket", {"globalAlias": a.bucket})
        if status == 200:
            bucket = answer["id"]
            break
        time.sleep(0.2)
    if bucket is None:
        sys.exit(f"garage-init: could not create bucket {a.bucket}: {status} {answer}")

    status, _ = call(first, a.token, "GET", f"/v2/GetKeyInfo?id={a.key_id}")
    if status != 200:
        ok(first, a.token, "POST", "/v2/ImportKey",
           {"accessKeyId": a.key_id, "secretAccessKey": a.secret, "name": "berth"})
    ok(first, a.token, "POST", "/v2/AllowBucketKey", {
        "bucketId": bucket, "accessKeyId": a.key_id,
        "permissions": {"read": True, "write": True, "owner": True}})
    print(f"garage-init: {len(ids)} nodes, bucket {a.bucket}, key {a.key_id}")


if __name__ == "__main__":
    main()
