#!/usr/bin/env python3
"""Berth beside CNCF Distribution (Debian's docker-registry), on loopback and local disk.

Run through scripts/bench, which installs what is missing and builds Berth in release mode.
Writes target/bench/report.md (a table) and target/bench/report.json (an array of
{"name", "unit", "berth", "distribution", "ratio"}, ratio > 1 meaning Berth is better).
Given --garage (a running cluster from scripts/lib/garage.sh), it adds the scale-out rows: see
scale_out_rows.
"""

import argparse
import base64
import concurrent.futures
import hashlib
import http.client
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
MIB = 1 << 20

FULL = dict(blob_mib=1024, chunk_mib=64, tags=10_000, repos=100_000, wrk_secs=10,
            pushers=16, pusher_mib=64, gc_manifests=10_000, gc_layers=10, moves=20)
QUICK = dict(blob_mib=128, chunk_mib=16, tags=1_000, repos=2_000, wrk_secs=2,
             pushers=16, pusher_mib=4, gc_manifests=1_000, gc_layers=10, moves=20)
# The image docker pushes and pulls, in both runs: layers of 1 to 20 MiB, the common case.
LAYERS_MIB = (1, 2, 5, 10, 20)


def log(msg):
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, capture_output=True, text=True, **kw).stdout


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(4 * MIB):
            h.update(chunk)
    return "sha256:" + h.hexdigest()


def random_file(path, mib):
    with open(path, "wb") as f:
        for _ in range(mib):
            f.write(os.urandom(MIB))
    os.sync()


class Server:
    """One registry under test: its base URL, credentials and process."""

    def __init__(self, name, port, proc, curl_auth, wrk_auth):
        self.name = name
        self.port = port
        self.base = f"http://127.0.0.1:{port}"
        self.host = f"127.0.0.1:{port}"
        self.proc = proc
        self.curl_auth = curl_auth  # extra curl arguments for every request
        self.wrk_auth = wrk_auth  # extra wrk arguments (a bearer token), or none

    def rss_kib(self, field):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
        return 0

    def curl(self, *args):
        return run(["curl", "-fsS", *self.curl_auth, *args])

    def wait_ready(self):
        for _ in range(200):
            try:
                c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                c.request("GET", "/v2/")
                if c.getresponse().status in (200, 401):
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise SystemExit(f"{self.name} did not start")


def start_berth(binary, work):
    data = os.path.join(work, "berth")
    password = f"bench password {os.getpid()}"
    subprocess.run([binary, "admin", "create-user", "bench", "--email", "bench@example.com",
                    "--password-stdin", "--admin", "--data-dir", data],
                   input=password + "\n", check=True, capture_output=True, text=True)
    port = free_port()
    env = dict(os.environ, BERTH_LOG="warn")
    proc = subprocess.Popen([binary, "serve", "--listen", f"127.0.0.1:{port}", "--data-dir", data],
                            stdout=open(os.path.join(work, "berth.log"), "w"),
                            stderr=subprocess.STDOUT, env=env)
    server = Server("Berth", port, proc, [], [])
    server.wait_ready()
    # A personal access token for Basic auth (checked with one hash, as a CI job would use).
    out = run(["curl", "-fsS", "-u", f"bench:{password}", "-H", "Content-Type: application/json",
               "-d", '{"name": "bench", "scope": "read-write-delete"}',
               f"{server.base}/api/v1/user/tokens"])
    pat = json.loads(out)["token"]
    server.curl_auth = ["-u", f"bench:{pat}"]
    server.password = password
    server.pat = pat
    return server


def berth_token(server, scope):
    q = urllib.parse.urlencode({"service": server.host, "scope": scope})
    out = run(["curl", "-fsS", "-u", f"bench:{server.pat}", f"{server.base}/auth/token?{q}"])
    return json.loads(out)["token"]


def distribution_version(binary):
    """What a Distribution binary says it is: `v3.1.1+unknown`, `v2.8.2+ds1`..."""
    out = run([binary, "--version"])
    versions = [w for w in out.split() if re.match(r"v?\d+\.\d+", w)]
    return versions[-1] if versions else out.strip()


def start_distribution(work, storage=None, name="distribution", binary="docker-registry",
                       label="Distribution"):
    """Distribution on local disk, or on the `storage` section given (YAML, indented by 2)."""
    port = free_port()
    cfg = os.path.join(work, f"{name}.yml")
    storage = storage or f"""  filesystem:
    rootdirectory: {work}/{name}
"""
    with open(cfg, "w") as f:
        f.write(f"""version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
{storage}  delete:
    enabled: true
http:
  addr: 127.0.0.1:{port}
""")
    # The AWS SDK in Debian's build panics at start when AWS_CA_BUNDLE is set (its transport
    # cannot take a custom bundle); the S3 store here is plain HTTP on loopback anyway.
    env = {k: v for k, v in os.environ.items() if k != "AWS_CA_BUNDLE"}
    proc = subprocess.Popen([binary, "serve", cfg],
                            stdout=open(os.path.join(work, f"{name}.log"), "w"),
                            stderr=subprocess.STDOUT, env=env)
    server = Server(label, port, proc, [], [])
    server.wait_ready()
    return server


def location(headers, base):
    for line in headers.splitlines():
        if line.lower().startswith("location:"):
            loc = line.split(":", 1)[1].strip()
            return loc if loc.startswith("http") else base + loc
    raise RuntimeError(f"no Location in {headers!r}")


def with_query(url, **params):
    sep = "&" if "?" in url else "?"
    return url + sep + urllib.parse.urlencode(params)


def start_upload(s, repo):
    headers = s.curl("-X", "POST", "-D", "-", "-o", "/dev/null", f"{s.base}/v2/{repo}/blobs/uploads/")
    return location(headers, s.base)


def push_monolithic(s, repo, path, digest):
    """POST, then one PUT streaming the file; returns seconds for the PUT."""
    loc = start_upload(s, repo)
    t = time.monotonic()
    s.curl("-X", "PUT", "-H", "Content-Type: application/octet-stream", "-T", path, "-o", "/dev/null",
           with_query(loc, digest=digest))
    return time.monotonic() - t


def push_chunked(s, repo, chunks, digest):
    """PATCH each chunk with its Content-Range, then PUT; returns seconds for all of it."""
    loc = start_upload(s, repo)
    t = time.monotonic()
    offset = 0
    for path in chunks:
        size = os.path.getsize(path)
        headers = s.curl("-X", "PATCH", "-D", "-", "-o", "/dev/null",
                         "-H", "Content-Type: application/octet-stream",
                         "-H", f"Content-Range: {offset}-{offset + size - 1}",
                         "--data-binary", f"@{path}", loc)
        loc = location(headers, s.base)
        offset += size
    s.curl("-X", "PUT", "-o", "/dev/null", with_query(loc, digest=digest))
    return time.monotonic() - t


def push_kept_alive(s, repo, path, digest):
    """POST, then a PUT streaming the file, on one kept-alive connection as docker and other
    clients push; returns seconds for both. (A curl process per request would measure mostly
    curl starting: 32 of them take about 0.1 s of this machine's 2 cores.)"""
    headers = {}
    if s.curl_auth:
        headers["Authorization"] = "Basic " + base64.b64encode(s.curl_auth[1].encode()).decode()
    conn = http.client.HTTPConnection("127.0.0.1", s.port, timeout=120, blocksize=MIB)
    t = time.monotonic()
    conn.request("POST", f"/v2/{repo}/blobs/uploads/", headers=headers)
    r = conn.getresponse()
    r.read()
    if r.status != 202:
        raise RuntimeError(f"{s.name}: POST {repo}: {r.status}")
    loc = urllib.parse.urlsplit(location(f"Location: {r.getheader('Location')}", s.base))
    target = urllib.parse.urlunsplit(("", "", loc.path, loc.query, ""))
    with open(path, "rb") as body:
        conn.request("PUT", with_query(target, digest=digest), body=body,
                     headers={**headers, "Content-Type": "application/octet-stream",
                              "Content-Length": str(os.path.getsize(path))})
        r = conn.getresponse()
        r.read()
    conn.close()
    if r.status != 201:
        raise RuntimeError(f"{s.name}: PUT {repo}: {r.status}")
    return time.monotonic() - t


class one_core:
    """Pins every thread of a server to CPU 0 for the length of a `with` block (`taskset -a`);
    the clients stay free to use every core."""

    def __init__(self, server):
        self.pid = str(server.proc.pid)

    def __enter__(self):
        run(["taskset", "-a", "-p", "-c", "0", self.pid])

    def __exit__(self, *exc):
        run(["taskset", "-a", "-p", "-c", f"0-{os.cpu_count() - 1}", self.pid])


def pull(s, repo, digest):
    t = time.monotonic()
    s.curl("-o", "/dev/null", f"{s.base}/v2/{repo}/blobs/{digest}")
    return time.monotonic() - t


def put_manifest(s, repo, ref, path):
    s.curl("-X", "PUT", "-H", f"Content-Type: {OCI_MANIFEST}", "--data-binary", f"@{path}",
           "-o", "/dev/null", f"{s.base}/v2/{repo}/manifests/{ref}")


def wrk(url, secs, extra, connections=4):
    out = run(["wrk", "-t2", f"-c{connections}", f"-d{secs}s", "--latency",
               "-H", f"Accept: {OCI_MANIFEST}", *extra, url])
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    m = re.search(r"^\s+99%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[m.group(2)]
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    if non2xx:
        raise RuntimeError(f"wrk saw {non2xx.group(1)} failed requests on {url}")
    return rps, float(m.group(1)) * scale


def curl_parallel(s, entries, method):
    """Runs many requests in one curl process, 16 at a time; entries are (url, upload file)."""
    with tempfile.NamedTemporaryFile("w", delete=False, suffix=".curl") as cfg:
        for url, upload in entries:
            cfg.write(f'url = "{url}"\noutput = "/dev/null"\n')
            if upload:
                cfg.write(f'upload-file = "{upload}"\n')
    try:
        run(["curl", "-fsS", "--parallel", "--parallel-max", "16", *s.curl_auth, "-X", method,
             "-H", f"Content-Type: {OCI_MANIFEST}", "-K", cfg.name])
    finally:
        os.unlink(cfg.name)


def list_all(s, path, key, auth_header):
    """Follows a paginated list (n=1000) to its end; returns (milliseconds, items)."""
    conn = http.client.HTTPConnection("127.0.0.1", s.port, timeout=120)
    url, items = f"{path}?n=1000", 0
    t = time.monotonic()
    while url:
        conn.request("GET", url, headers=auth_header)
        r = conn.getresponse()
        body = r.read()
        if r.status != 200:
            raise RuntimeError(f"{s.name} {url}: {r.status} {body[:200]!r}")
        items += len(json.loads(body)[key] or [])
        link = r.getheader("Link")
        url = re.match(r"<([^>]+)>", link).group(1) if link else None
        if url and url.startswith("http"):
            url = urllib.parse.urlsplit(url)._replace(scheme="", netloc="").geturl()
    return (time.monotonic() - t) * 1000, items


def median_ms(f, runs=5):
    results = [f() for _ in range(runs)]
    return statistics.median(r[0] for r in results), results[0][1]


def docker_available():
    return shutil.which("docker") is not None and subprocess.run(
        ["docker", "info"], capture_output=True).returncode == 0


def reference_lines(work):
    refs = {}
    out = run(["openssl", "speed", "-seconds", "2", "-evp", "sha256"])
    # The last line: "sha256  <16B> <64B> ... <16384B>" in thousands of bytes per second.
    line = [l for l in out.splitlines() if l.startswith("sha256")][-1]
    refs["sha256"] = float(line.split()[-1].rstrip("k")) * 1000 / 1e6
    path = os.path.join(work, "dd-test")
    t = time.monotonic()
    subprocess.run(["dd", "if=/dev/zero", f"of={path}", "bs=1M", "count=1024", "conv=fdatasync"],
                   check=True, capture_output=True)
    refs["disk"] = 1024 * MIB / 1e6 / (time.monotonic() - t)
    os.unlink(path)
    return refs


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="small sizes: about 3 minutes")
    ap.add_argument("--berth", required=True, help="the berth release binary")
    ap.add_argument("--out", required=True, help="directory for report.md and report.json")
    ap.add_argument("--garage", help="directory of a running Garage cluster's env file "
                    "(scripts/lib/garage.sh), for the scale-out rows")
    ap.add_argument("--distribution", action="append", metavar="PATH",
                    help="a Distribution binary to measure beside Berth (default: Debian's "
                    "docker-registry); given twice, both are measured in the same run")
    args = ap.parse_args()
    binaries = args.distribution or ["docker-registry"]
    p = QUICK if args.quick else FULL
    started = time.monotonic()
    work = tempfile.mkdtemp(prefix="berth-bench.")
    servers = []
    rows = []  # (name, unit, berth, distribution, higher_is_better)
    try:
        refs = reference_lines(work)
        berth = start_berth(args.berth, work)
        peers = []
        for i, binary in enumerate(binaries):
            label = f"Distribution {distribution_version(binary)}"
            if any(p.name == label for p in peers):
                label += f" ({i + 1})"
            peers.append(start_distribution(work, name=f"distribution{i}", binary=binary,
                                            label=label))
            peers[-1].binary = binary
        servers = [berth, *peers]

        log(f"files: a {p['blob_mib']} MiB blob, {p['pushers']} of {p['pusher_mib']} MiB")
        blob = os.path.join(work, "blob")
        random_file(blob, p["blob_mib"])
        digest = sha256_file(blob)
        core_blob = os.path.join(work, "core-blob")
        random_file(core_blob, p["blob_mib"])
        core_digest = sha256_file(core_blob)
        chunks = []
        with open(blob, "rb") as f:
            i = 0
            while data := f.read(p["chunk_mib"] * MIB):
                path = os.path.join(work, f"chunk{i:03}")
                with open(path, "wb") as c:
                    c.write(data)
                chunks.append(path)
                i += 1
        pusher_files = []
        for i in range(p["pushers"]):
            path = os.path.join(work, f"pusher{i}")
            random_file(path, p["pusher_mib"])
            pusher_files.append((path, sha256_file(path)))
        config = os.path.join(work, "config")
        with open(config, "w") as f:
            f.write('{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}')
        config_digest = sha256_file(config)
        manifest = os.path.join(work, "manifest")
        with open(manifest, "w") as f:
            json.dump({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                       "config": {"mediaType": OCI_CONFIG, "digest": config_digest,
                                  "size": os.path.getsize(config)},
                       "layers": [{"mediaType": OCI_LAYER, "digest": digest,
                                   "size": os.path.getsize(blob)}]}, f)
        small = os.path.join(work, "small-manifest")
        with open(small, "w") as f:
            json.dump({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                       "config": {"mediaType": OCI_CONFIG, "digest": config_digest,
                                  "size": os.path.getsize(config)}, "layers": []}, f)
        manifest_digest = sha256_file(manifest)
        size_mb = os.path.getsize(blob) / 1e6

        r = {}
        for s in servers:
            log(f"{s.name}: large blobs")
            push_monolithic(s, "bench/app", config, config_digest)
            idle_rss = s.rss_kib("VmRSS")
            os.sync()
            r[s.name, "push"] = size_mb / push_monolithic(s, "bench/app", blob, digest)
            os.sync()
            r[s.name, "chunked"] = size_mb / push_chunked(s, "bench/chunked", chunks, digest)
            os.sync()
            r[s.name, "pull"] = size_mb / pull(s, "bench/app", digest)
            r[s.name, "rss"] = s.rss_kib("VmHWM") / 1024
            r[s.name, "rss_growth"] = (s.rss_kib("VmHWM") - idle_rss) / 1024

            log(f"{s.name}: {p['pushers']} concurrent pushers")
            total = sum(os.path.getsize(f) for f, _ in pusher_files) / 1e6
            t = time.monotonic()
            with concurrent.futures.ThreadPoolExecutor(p["pushers"]) as pool:
                list(pool.map(lambda fd: push_kept_alive(s, f"bench/p{fd[1][7:15]}", *fd),
                              pusher_files))
            r[s.name, "concurrent"] = total / (time.monotonic() - t)

            log(f"{s.name}: manifest GETs with wrk")
            put_manifest(s, "bench/app", "latest", manifest)
            for ref, key in (("latest", "tag"), (manifest_digest, "digest")):
                url = f"{s.base}/v2/bench/app/manifests/{ref}"
                r[s.name, f"get_{key}"] = wrk(url, p["wrk_secs"], [])
            r[s.name, "get_64"] = wrk(f"{s.base}/v2/bench/app/manifests/latest", p["wrk_secs"],
                                      [], connections=64)
            log(f"{s.name}: on one core (taskset -c 0)")
            with one_core(s):
                r[s.name, "core_push"] = size_mb / push_monolithic(s, "bench/core", core_blob,
                                                                  core_digest)
                r[s.name, "core_pull"] = size_mb / pull(s, "bench/app", digest)
                r[s.name, "core_get"] = wrk(f"{s.base}/v2/bench/app/manifests/latest",
                                            p["wrk_secs"], [])
            if s is berth:
                token = berth_token(s, "repository:bench/app:pull")
                r[s.name, "get_token"] = wrk(f"{s.base}/v2/bench/app/manifests/latest",
                                             p["wrk_secs"], ["-H", f"Authorization: Bearer {token}"])

            log(f"{s.name}: {p['tags']} tags and {p['repos']} repositories")
            push_monolithic(s, "bench/tags", config, config_digest)
            curl_parallel(s, [(f"{s.base}/v2/bench/tags/manifests/t{i:06}", small)
                              for i in range(p["tags"])], "PUT")
            curl_parallel(s, [(f"{s.base}/v2/cat/r{i:06}/blobs/uploads/?"
                               + urllib.parse.urlencode({"mount": config_digest, "from": "bench/app"}),
                               None) for i in range(p["repos"])], "POST")
            curl_parallel(s, [(f"{s.base}/v2/cat/r{i:06}/manifests/v1", small)
                              for i in range(p["repos"])], "PUT")
            # Berth as docker asks it: a bearer token for the scope at hand.
            tags_auth, catalog_auth = {}, {}
            if s is berth:
                tags_auth = {"Authorization": "Bearer "
                             + berth_token(s, "repository:bench/tags:pull")}
                catalog_auth = {"Authorization": "Bearer " + berth_token(s, "registry:catalog:*")}
            ms, n = median_ms(lambda: list_all(s, "/v2/bench/tags/tags/list", "tags", tags_auth))
            assert n == p["tags"], f"{s.name} listed {n} tags"
            r[s.name, "tags"] = ms
            # Distribution walks its whole tree for every page of a large catalog (over a minute
            # for 100,000 repositories): one run of it is enough to tell.
            runs = 1 if s is not berth and p["repos"] >= 10_000 else 3
            ms, n = median_ms(lambda: list_all(s, "/v2/_catalog", "repositories", catalog_auth),
                              runs=runs)
            assert n >= p["repos"], f"{s.name} listed {n} repositories"
            r[s.name, "catalog"] = ms

        gc = gc_rows(p, work, args.berth, berth, config, config_digest, digest, size_mb)

        if docker_available():
            docker_rows(p, work, berth, peers, r)
        else:
            log("no Docker daemon (docker info failed): skipping the docker CLI rows")

        missing = scale_out_missing(args.garage)
        if missing:
            scale = {"skipped": "no " + ", no ".join(missing)}
            log(f"scale-out rows skipped: {scale['skipped']}")
        else:
            # Distribution on Garage is Debian's 2.8: v3's S3 driver refuses Garage's
            # answers to its upload requests here.
            scale = scale_out_rows(p, work, args.berth, args.garage,
                                   (blob, digest, size_mb, config, config_digest, manifest))

        def row(name, unit, key, higher, pick=lambda v: v, berth_key=None, peer_key=None):
            rows.append((name, unit, pick(r[berth.name, berth_key or key]),
                         [pick(r[d.name, peer_key or key]) for d in peers], higher))

        mb = "MB/s"
        row(f"monolithic push of {p['blob_mib']} MiB", mb, "push", True)
        row(f"chunked push of {p['blob_mib']} MiB in {p['chunk_mib']} MiB chunks", mb, "chunked",
            True)
        row(f"pull of {p['blob_mib']} MiB", mb, "pull", True)
        row(f"{p['pushers']} concurrent pushers of {p['pusher_mib']} MiB (total)", mb,
            "concurrent", True)
        first, p99 = (lambda v: v[0]), (lambda v: v[1])
        for key, what in (("get_tag", "by tag"), ("get_digest", "by digest")):
            row(f"manifest GET {what}, anonymous", "req/s", key, True, first)
            row(f"manifest GET {what}, anonymous, p99", "ms", key, False, p99)
        row("manifest GET by tag, Berth with a bearer token (vs Distribution anonymous)",
            "req/s", "get_tag", True, first, berth_key="get_token")
        row("manifest GET by tag, Berth with a bearer token, p99", "ms", "get_tag", False, p99,
            berth_key="get_token")
        row("manifest GET by tag, anonymous, 64 connections", "req/s", "get_64", True, first)
        row("manifest GET by tag, anonymous, 64 connections, p99", "ms", "get_64", False, p99)
        row(f"one core: monolithic push of {p['blob_mib']} MiB", mb, "core_push", True)
        row(f"one core: pull of {p['blob_mib']} MiB", mb, "core_pull", True)
        row("one core: manifest GET by tag, anonymous", "req/s", "core_get", True, first)
        row(f"tag list of {p['tags']} tags (pages of 1000)", "ms", "tags", False)
        row(f"catalog of {p['repos']}+ repositories (pages of 1000)", "ms", "catalog", False)
        if (berth.name, "docker_push") in r:
            label = (f"{len(LAYERS_MIB)}-layer image ({', '.join(map(str, LAYERS_MIB))} MiB "
                     "layers)")
            row(f"docker push of a {label}", "s", "docker_push", False)
            row(f"docker pull of a {label}", "s", "docker_pull", False)
        row("peak RSS during the large-blob runs", "MiB", "rss", False)
        row("RSS growth while pushing and pulling the large blob", "MiB", "rss_growth", False)
        report(args.out, rows, gc, refs, p, args.quick, time.monotonic() - started, scale, peers)
    finally:
        for s in servers:
            s.proc.terminate()
            try:
                s.proc.wait(10)
            except subprocess.TimeoutExpired:
                s.proc.kill()
        shutil.rmtree(work, ignore_errors=True)


def docker_rows(p, work, berth, peers, r):
    log("docker CLI: build, push and pull an image")
    ctx = os.path.join(work, "image")
    os.makedirs(ctx)
    lines = ["FROM scratch"]
    for i, mib in enumerate(LAYERS_MIB):
        random_file(os.path.join(ctx, f"layer{i}"), mib)
        lines.append(f"COPY layer{i} /layer{i}")
    with open(os.path.join(ctx, "Dockerfile"), "w") as f:
        f.write("\n".join(lines) + "\n")
    local = f"berth-bench-image:{os.getpid()}"
    run(["docker", "build", "-q", "-t", local, ctx], env=dict(os.environ, DOCKER_BUILDKIT="0"))
    subprocess.run(["docker", "login", "-u", "bench", "--password-stdin", berth.host],
                   input=berth.pat, check=True, capture_output=True, text=True)
    tags = {}
    for s in (berth, *peers):
        tags[s.name] = f"{s.host}/bench/image:v1"
        run(["docker", "tag", local, tags[s.name]])
        t = time.monotonic()
        run(["docker", "push", tags[s.name]])
        r[s.name, "docker_push"] = time.monotonic() - t
    run(["docker", "rmi", local, *tags.values()])
    for s in (berth, *peers):
        t = time.monotonic()
        run(["docker", "pull", tags[s.name]])
        r[s.name, "docker_pull"] = time.monotonic() - t
        run(["docker", "rmi", tags[s.name]])
    subprocess.run(["docker", "logout", berth.host], capture_output=True)


def post_blobs(s, repo, blobs):
    """Monolithic POSTs of small blobs (path, digest, size), 16 connections at a time."""
    auth = {"Authorization": "Basic " + base64.b64encode(s.curl_auth[1].encode()).decode()}

    def send(part):
        conn = http.client.HTTPConnection("127.0.0.1", s.port, timeout=120)
        for path, digest, _ in part:
            with open(path, "rb") as f:
                body = f.read()
            conn.request("POST", f"/v2/{repo}/blobs/uploads/?digest={digest}", body=body,
                         headers={**auth, "Content-Type": "application/octet-stream"})
            r = conn.getresponse()
            r.read()
            if r.status != 201:
                raise RuntimeError(f"{s.name}: POST of {digest}: {r.status}")
        conn.close()

    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        list(pool.map(send, [blobs[i::16] for i in range(16)]))


def gc_rows(p, work, binary, berth, config, config_digest, big_digest, size_mb):
    """Berth's online garbage collection: `berth gc` over gc_manifests manifests of gc_layers
    small layers each, half of them deleted, while the server runs; and pulls of the large blob
    while it runs, beside the same pulls without it."""
    n, per = p["gc_manifests"], p["gc_layers"]
    log(f"Berth: garbage collection over {n * per} blobs and {n} manifests")
    gc_dir = os.path.join(work, "gc")
    os.makedirs(gc_dir, exist_ok=True)
    layers = []
    for i in range(n * per):
        data = f"garbage collection layer {i}\n".encode()
        path = os.path.join(gc_dir, f"l{i}")
        with open(path, "wb") as f:
            f.write(data)
        layers.append((path, "sha256:" + hashlib.sha256(data).hexdigest(), len(data)))
    push_monolithic(berth, "bench/gc", config, config_digest)
    post_blobs(berth, "bench/gc", layers)
    manifests = []
    for j in range(n):
        doc = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                          "config": {"mediaType": OCI_CONFIG, "digest": config_digest,
                                     "size": os.path.getsize(config)},
                          "layers": [{"mediaType": OCI_LAYER, "digest": d, "size": size}
                                     for _, d, size in layers[j * per:(j + 1) * per]]}).encode()
        path = os.path.join(gc_dir, f"m{j}")
        with open(path, "wb") as f:
            f.write(doc)
        manifests.append((path, "sha256:" + hashlib.sha256(doc).hexdigest()))
    curl_parallel(berth, [(f"{berth.base}/v2/bench/gc/manifests/t{j}", path)
                          for j, (path, _) in enumerate(manifests)], "PUT")
    curl_parallel(berth, [(f"{berth.base}/v2/bench/gc/manifests/{d}", None)
                          for path, d in manifests[1::2]], "DELETE")
    pulls_before = []
    for _ in range(5):
        pulls_before.append(size_mb / pull(berth, "bench/app", big_digest))
    # Stamps are in seconds: what was written this second is younger than a collection
    # starting now, whatever the grace.
    time.sleep(1.1)
    cmd = [binary, "gc", "--grace", "0s", "--data-dir", os.path.join(work, "berth")]
    t = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    during = []
    while proc.poll() is None:
        during.append(size_mb / pull(berth, "bench/app", big_digest))
    out, err = proc.communicate()
    secs = time.monotonic() - t
    if proc.returncode != 0:
        raise RuntimeError(f"berth gc failed: {err}")
    freed = re.search(r"freed .* in (\d+) blobs", out)
    freed = int(freed.group(1)) if freed else 0
    expected = (n // 2) * per
    if freed < expected:
        raise RuntimeError(f"berth gc freed {freed} blobs, expected at least {expected}:\n{out}")
    # As many pulls again without a collection, for the comparison.
    after = [size_mb / pull(berth, "bench/app", big_digest) for _ in range(max(len(during), 3))]
    without = statistics.median(pulls_before + after)
    with_gc = statistics.median(during) if during else without
    return [
        (f"`berth gc` over {n * per:,} blobs and {n:,} manifests, {freed:,} blobs freed, online",
         "s", secs, "under 60 s", secs < 60),
        (f"pull of the large blob while it runs ({len(during)} pulls)", "MB/s", with_gc,
         f"at most 20% below {without:,.0f} without it", with_gc >= 0.8 * without),
    ]


PG_BIN = "/usr/lib/postgresql/15/bin"


def nginx_binary():
    if shutil.which("nginx"):
        return shutil.which("nginx")
    return "/usr/sbin/nginx" if os.access("/usr/sbin/nginx", os.X_OK) else None


def scale_out_missing(garage_dir):
    """What the scale-out rows need and this machine lacks (empty when they can run)."""
    missing = []
    if not garage_dir:
        missing.append("Garage cluster (--garage; scripts/bench starts one when `garage` "
                       "is on PATH)")
    if not nginx_binary():
        missing.append("nginx")
    if not os.access(f"{PG_BIN}/initdb", os.X_OK):
        missing.append(f"PostgreSQL 15 in {PG_BIN}")
    return missing


def read_env_file(path):
    env = {}
    with open(path) as f:
        for line in f:
            if "=" in line:
                k, v = line.strip().split("=", 1)
                env[k] = v
    return env


class Postgres:
    """A throwaway PostgreSQL 15 cluster on a free loopback port, fsync off, in a directory of its
    own (the bench's work dir is private to us, and PostgreSQL runs as `postgres` when we are
    root, as it refuses to run as root)."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="berth-bench-pg.")
        self.port = free_port()
        self.as_user = []
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres", "postgres")
            self.as_user = ["runuser", "-u", "postgres", "--"]
        self.started = False
        run([*self.as_user, f"{PG_BIN}/initdb", "-D", f"{self.dir}/data", "-A", "trust",
             "-U", "postgres", "-E", "UTF8", "--locale=C.UTF-8"], cwd=self.dir)
        self.pg_ctl("start", "-l", f"{self.dir}/postgres.log", "-o",
                    f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off")
        self.started = True
        self.url = f"postgres://postgres@127.0.0.1:{self.port}/postgres"

    def pg_ctl(self, action, *args):
        # Never our pipes: the server it starts would hold them open after pg_ctl exits.
        status = subprocess.run([*self.as_user, f"{PG_BIN}/pg_ctl", "-D", f"{self.dir}/data",
                                 "-w", "-t", "30", *args, action], cwd=self.dir,
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL).returncode
        if status != 0:
            try:
                with open(f"{self.dir}/postgres.log") as f:
                    tail = f.read()[-2000:]
            except OSError:
                tail = ""
            raise RuntimeError(f"pg_ctl {action} failed ({status}):\n{tail}")

    def stop(self):
        if self.started:
            try:
                self.pg_ctl("stop", "-m", "immediate")
            except RuntimeError as e:
                log(str(e))
        shutil.rmtree(self.dir, ignore_errors=True)


def start_nginx(work, sites):
    """nginx in front of Berth replicas, as in the scale-out tests: no stickiness, no request
    buffering, no body limit, the Host passed through. `sites` is [(listen port, [replica
    ports])], one server and upstream each."""
    d = os.path.join(work, "nginx")
    os.makedirs(os.path.join(d, "tmp"), exist_ok=True)
    blocks = []
    for i, (port, upstreams) in enumerate(sites):
        servers = "".join(f"        server 127.0.0.1:{u};\n" for u in upstreams)
        blocks.append(f"""    upstream berth{i} {{
{servers}        keepalive 16;
    }}
    server {{
        listen 127.0.0.1:{port};
        client_max_body_size 0;
        proxy_request_buffering off;
        proxy_buffering off;
        location / {{
            proxy_pass http://berth{i};
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-For $remote_addr;
            proxy_read_timeout 600s;
            proxy_send_timeout 600s;
        }}
    }}
""")
    conf = os.path.join(d, "nginx.conf")
    with open(conf, "w") as f:
        f.write(f"""daemon off;
worker_processes auto;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    client_body_temp_path {d}/tmp/body;
    proxy_temp_path {d}/tmp/proxy;
    fastcgi_temp_path {d}/tmp/fastcgi;
    uwsgi_temp_path {d}/tmp/uwsgi;
    scgi_temp_path {d}/tmp/scgi;
    access_log off;
{"".join(blocks)}}}
""")
    proc = subprocess.Popen([nginx_binary(), "-c", conf, "-p", d], stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL,
                            stderr=open(os.path.join(d, "stderr.log"), "w"))
    for port, _ in sites:
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if proc.poll() is not None:
                    raise RuntimeError(f"nginx did not start: {open(d + '/error.log').read()}")
                time.sleep(0.05)
        else:
            raise RuntimeError(f"nginx did not listen on {port}")
    return proc


def pull_verified(s, repo, digest, follow=False):
    """GETs a blob with curl (following a redirect when asked), hashing it as it arrives;
    returns seconds. A redirecting server must answer 307, and the bytes must hash to `digest`."""
    url = f"{s.base}/v2/{repo}/blobs/{digest}"
    if follow:
        code = s.curl("-o", "/dev/null", "-w", "%{http_code}", url)
        if code != "307":
            raise RuntimeError(f"{s.name}: blob GET answered {code}, not a 307 redirect")
    h = hashlib.sha256()
    t = time.monotonic()
    # Without --location-trusted, curl keeps the credentials off the presigned URL's host.
    proc = subprocess.Popen(["curl", "-fsS", *s.curl_auth, *(["-L"] if follow else []), url],
                            stdout=subprocess.PIPE)
    while chunk := proc.stdout.read(4 * MIB):
        h.update(chunk)
    if proc.wait() != 0:
        raise RuntimeError(f"{s.name}: pull of {digest} failed (curl {proc.returncode})")
    secs = time.monotonic() - t
    if "sha256:" + h.hexdigest() != digest:
        raise RuntimeError(f"{s.name}: pulled sha256:{h.hexdigest()}, expected {digest}")
    return secs


def manifest_request(conn, method, path, body=None, headers=None):
    conn.request(method, path, body=body, headers={"Accept": OCI_MANIFEST, **(headers or {})})
    r = conn.getresponse()
    data = r.read()
    return r.status, r.getheader("Docker-Content-Digest"), data


def freshness(a, b, moves, config_path, config_digest):
    """Moves a tag on replica `a` and polls replica `b` until it serves the new digest; returns
    the milliseconds from each PUT's answer to `b`'s first answer with the new digest."""
    repo, tag = "bench/fresh", "moving"
    push_monolithic(a, repo, config_path, config_digest)
    auth = {"Authorization": "Basic " + base64.b64encode(a.curl_auth[1].encode()).decode()}
    docs = []
    for i in range(moves + 1):
        doc = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                          "config": {"mediaType": OCI_CONFIG, "digest": config_digest,
                                     "size": os.path.getsize(config_path)},
                          "layers": [], "annotations": {"bench.move": str(i)}}).encode()
        docs.append((doc, "sha256:" + hashlib.sha256(doc).hexdigest()))
    ca = http.client.HTTPConnection("127.0.0.1", a.port, timeout=30)
    cb = http.client.HTTPConnection("127.0.0.1", b.port, timeout=30)
    path = f"/v2/{repo}/manifests/{tag}"

    def move(doc, digest):
        status, got, body = manifest_request(ca, "PUT", path, doc,
                                             {**auth, "Content-Type": OCI_MANIFEST})
        if status != 201 or got != digest:
            raise RuntimeError(f"PUT {path} on {a.name}: {status} {got} {body[:200]!r}")

    def wait_for(digest):
        t = time.monotonic()
        while True:
            status, got, _ = manifest_request(cb, "GET", path)
            now = time.monotonic()
            if status == 200 and got == digest:
                return now
            if now - t > 10:
                raise RuntimeError(f"{b.name} still serves {got} ({status}) for {path} 10 s "
                                   f"after {a.name} moved it to {digest}")

    move(*docs[0])
    wait_for(docs[0][1])
    times = []
    for doc, digest in docs[1:]:
        # B has just read the old digest; move at moments spread over the next second, so
        # that a cache refreshing on a timer is caught at every phase, not always the same one.
        time.sleep(0.05 + (len(times) % 10) / 10)
        move(doc, digest)
        t = time.monotonic()
        times.append((wait_for(digest) - t) * 1000)
    return times


def scale_out_rows(p, work, binary, garage_dir, files, distribution="docker-registry"):
    """Berth on a three-node Garage cluster beside Distribution on the same bucket (under
    prefixes of their own), replicas behind nginx on one PostgreSQL, and how soon a tag moved
    on one replica is seen on another. Returns {"store": rows, "replicas": rows, "fresh": rows}."""
    g = read_env_file(os.path.join(garage_dir, "env"))
    blob, digest, size_mb, config, config_digest, manifest = files
    procs, pg = [], None
    try:
        log("scale-out: PostgreSQL, 3 Berth instances on Garage, nginx, 2 Distributions on Garage")
        pg = Postgres()
        data = os.path.join(work, "scale-berth")
        toml = os.path.join(work, "scale-berth.toml")
        with open(toml, "w") as f:
            f.write('[storage]\nprefix = "bench-berth"\n')
        password = f"bench password {os.getpid()}"
        subprocess.run([binary, "admin", "create-user", "bench", "--email", "bench@example.com",
                        "--password-stdin", "--admin", "--data-dir", data,
                        "--database-url", pg.url],
                       input=password + "\n", check=True, capture_output=True, text=True)
        env = dict(os.environ, BERTH_LOG="warn", BERTH_STORAGE_BACKEND="s3",
                   BERTH_STORAGE_BUCKET=g["GARAGE_BUCKET"],
                   BERTH_STORAGE_ENDPOINT=g["GARAGE_ENDPOINT"],
                   BERTH_STORAGE_REGION=g["GARAGE_REGION"],
                   AWS_ACCESS_KEY_ID=g["GARAGE_KEY_ID"], AWS_SECRET_ACCESS_KEY=g["GARAGE_SECRET"])
        lb2, lb1 = free_port(), free_port()

        def berth(name, public, **extra):
            port = free_port()
            proc = subprocess.Popen(
                [binary, "serve", "--listen", f"127.0.0.1:{port}", "--data-dir", data,
                 "--database-url", pg.url, "--config", toml],
                stdout=open(os.path.join(work, f"{name}.log"), "w"), stderr=subprocess.STDOUT,
                env=dict(env, BERTH_PUBLIC_URL=public or f"http://127.0.0.1:{port}", **extra))
            procs.append(proc)
            s = Server(name, port, proc, [], [])
            s.wait_ready()
            return s

        # A and B are the replicas behind nginx; C, on the same database and bucket, redirects
        # pulls to presigned URLs.
        a = berth("replica A", f"http://127.0.0.1:{lb2}")
        b = berth("replica B", f"http://127.0.0.1:{lb2}")
        c = berth("Berth redirecting", None, BERTH_STORAGE_REDIRECT="true")
        procs.append(start_nginx(work, [(lb2, [a.port, b.port]), (lb1, [a.port])]))
        out = run(["curl", "-fsS", "-u", f"bench:{password}",
                   "-H", "Content-Type: application/json",
                   "-d", '{"name": "bench", "scope": "read-write-delete"}',
                   f"{a.base}/api/v1/user/tokens"])
        pat = json.loads(out)["token"]
        for s in (a, b, c):
            s.curl_auth = ["-u", f"bench:{pat}"]

        def s3_storage(redirect):
            return f"""  s3:
    regionendpoint: {g["GARAGE_ENDPOINT"]}
    region: {g["GARAGE_REGION"]}
    bucket: {g["GARAGE_BUCKET"]}
    accesskey: {g["GARAGE_KEY_ID"]}
    secretkey: {g["GARAGE_SECRET"]}
    secure: false
    v4auth: true
    rootdirectory: /bench-distribution
  redirect:
    disable: {"false" if redirect else "true"}
"""
        # 2.8's s3 driver addresses buckets as paths whenever regionendpoint is set (it has no
        # forcepathstyle key); both instances share the prefix, so the second sees the first's push.
        dist = start_distribution(work, s3_storage(False), "distribution-s3", distribution)
        procs.append(dist.proc)
        dist_redirect = start_distribution(work, s3_storage(True), "distribution-s3-redirect",
                                           distribution)
        procs.append(dist_redirect.proc)

        r = {}
        for name, s, redirecting in (("Berth", a, c), ("Distribution", dist, dist_redirect)):
            log(f"{name} on Garage: push and pulls of {p['blob_mib']} MiB")
            push_monolithic(s, "bench/app", config, config_digest)
            os.sync()
            r[name, "push"] = size_mb / push_monolithic(s, "bench/app", blob, digest)
            r[name, "pull"] = size_mb / pull_verified(s, "bench/app", digest)
            r[name, "redirect"] = size_mb / pull_verified(redirecting, "bench/app", digest,
                                                         follow=True)
        mb = "MB/s"
        store = [
            (f"monolithic push of {p['blob_mib']} MiB", mb, r["Berth", "push"],
             r["Distribution", "push"], True),
            (f"pull of {p['blob_mib']} MiB through the registry", mb, r["Berth", "pull"],
             r["Distribution", "pull"], True),
            (f"pull of {p['blob_mib']} MiB redirected to the store (307, `curl -L`)", mb,
             r["Berth", "redirect"], r["Distribution", "redirect"], True),
        ]

        log("Berth replicas: manifest GETs through nginx with wrk")
        put_manifest(a, "bench/app", "latest", manifest)
        for s in (a, b):
            s.curl("-o", "/dev/null", "-H", f"Accept: {OCI_MANIFEST}",
                   f"{s.base}/v2/bench/app/manifests/latest")
        url = "/v2/bench/app/manifests/latest"
        one = wrk(f"http://127.0.0.1:{lb1}{url}", p["wrk_secs"], [])
        two = wrk(f"http://127.0.0.1:{lb2}{url}", p["wrk_secs"], [])
        replicas = [
            ("manifest GET by tag through nginx, anonymous", "req/s", two[0], one[0], True),
            ("manifest GET by tag through nginx, anonymous, p99", "ms", two[1], one[1], False),
        ]

        log(f"Berth replicas: a tag moved on A, seen on B ({p['moves']} moves)")
        times = freshness(a, b, p["moves"], config, config_digest)
        fresh = [
            (f"tag moved on replica A until replica B serves it, median of {len(times)}", "ms",
             statistics.median(times)),
            (f"tag moved on replica A until replica B serves it, max of {len(times)}", "ms",
             max(times)),
        ]
        return {"store": store, "replicas": replicas, "fresh": fresh}
    finally:
        for proc in procs:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
        if pg:
            pg.stop()


def ratio(berth, other, higher):
    """Berth's lead over `other`: > 1 when Berth is better (0 when either is missing)."""
    if not berth or not other:
        return 0.0
    return berth / other if higher else other / berth


def report(out, rows, gc, refs, p, quick, elapsed, scale, peers):
    os.makedirs(out, exist_ok=True)
    data = []
    names = [d.name for d in peers]
    md = ["# Berth beside CNCF Distribution", "",
          f"{'Quick' if quick else 'Full'} run of `scripts/bench{' --quick' if quick else ''}`, "
          f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {os.cpu_count()} cores, "
          f"{elapsed:.0f} s, beside {' and '.join(f'{n} (`{d.binary}`)' for n, d in zip(names, peers))}. "
          "All servers on loopback and the same local disk; Distribution "
          "without authentication, Berth with a personal access token (Basic) unless a row says "
          "otherwise. Distribution never calls `fsync`; Berth makes every blob and its row "
          "durable before it answers `201`. \"One core\" rows pin every thread of the server to "
          "CPU 0 (`taskset -a -c 0`), the client left free. Ratio > 1 means Berth is better (for "
          "times and memory: Distribution's value over Berth's).", "",
          "| Measurement | Unit | Berth | " + " | ".join(f"{n} | Ratio" for n in names) + " |",
          "|---|---|---:|" + "---:|---:|" * len(names)]
    for name, unit, b, ds, higher in rows:
        ratios = [ratio(b, d, higher) for d in ds]
        data.append({"name": name, "unit": unit, "berth": round(b, 3),
                     "distribution": round(ds[0], 3), "ratio": round(ratios[0], 3),
                     "peers": [{"name": n, "value": round(d, 3), "ratio": round(x, 3)}
                               for n, d, x in zip(names, ds, ratios)]})
        md.append(f"| {name} | {unit} | {b:,.1f} | "
                  + " | ".join(f"{d:,.1f} | {x:.2f}×" for d, x in zip(ds, ratios)) + " |")
    md += ["", "Garbage collection (Berth alone: Distribution collects only offline):", "",
           "| Measurement | Unit | Berth | Target | Met |", "|---|---|---:|---|---|"]
    for name, unit, value, target, met in gc:
        data.append({"name": name, "unit": unit, "berth": round(value, 3), "target": target,
                     "met": met})
        md.append(f"| {name} | {unit} | {value:,.1f} | {target} | {'yes' if met else 'no'} |")
    md += ["", "## Scale-out", ""]
    if "skipped" in scale:
        md.append(f"Skipped: {scale['skipped']}.")
    else:
        md += ["Berth beside Distribution, both storing blobs on the same three-node Garage "
               "cluster (S3 on loopback, replication factor 3) under prefixes of their own; Berth "
               "on a throwaway PostgreSQL. Pulls through the registry with redirects off (Berth's "
               "default; Distribution's `redirect: disable: true`), and redirected pulls from a "
               "second instance of each with them on (`BERTH_STORAGE_REDIRECT=true`; "
               "Distribution's default), each pulled blob's SHA-256 checked.", "",
               "| Measurement | Unit | Berth | Distribution | Ratio |", "|---|---|---:|---:|---:|"]
        for name, unit, b, d, higher in scale["store"]:
            x = ratio(b, d, higher)
            data.append({"name": f"Garage: {name}", "unit": unit, "berth": round(b, 3),
                         "distribution": round(d, 3), "ratio": round(x, 3)})
            md.append(f"| {name} | {unit} | {b:,.1f} | {d:,.1f} | {x:.2f}× |")
        md += ["", "Two Berth replicas (one PostgreSQL, one bucket) behind nginx, round-robin, "
               "beside one Berth replica behind the same nginx (not Distribution): `wrk -t2 -c4` "
               "as in the rows above. Everything runs on this one machine, so the replicas share "
               "its cores with nginx, PostgreSQL and wrk: this shows what spreading requests "
               "over replicas costs or gains here, not what two machines would serve. Ratio > 1 "
               "means two replicas do better.", "",
               "| Measurement | Unit | 2 replicas | 1 replica | Ratio |",
               "|---|---|---:|---:|---:|"]
        for name, unit, two, one, higher in scale["replicas"]:
            x = ratio(two, one, higher)
            data.append({"name": f"replicas: {name}", "unit": unit, "berth": round(two, 3),
                         "one_replica": round(one, 3), "ratio": round(x, 3)})
            md.append(f"| {name} | {unit} | {two:,.1f} | {one:,.1f} | {x:.2f}× |")
        md += ["", "Cross-replica freshness: a manifest `PUT` moves a tag on replica A, then "
               "replica B's `GET /v2/<repo>/manifests/<tag>` is polled until its "
               "`Docker-Content-Digest` is the new digest (from A's answer to B's first fresh "
               "answer).", "", "| Measurement | Unit | Berth |", "|---|---|---:|"]
        for name, unit, value in scale["fresh"]:
            data.append({"name": f"replicas: {name}", "unit": unit, "berth": round(value, 3)})
            md.append(f"| {name} | {unit} | {value:,.1f} |")
    md += ["", "Reference lines for this machine:", "",
           f"- single-core SHA-256 (`openssl speed -evp sha256`, 16 KiB blocks): {refs['sha256']:,.0f} MB/s",
           f"- sequential disk write (`dd bs=1M count=1024 conv=fdatasync`): {refs['disk']:,.0f} MB/s"]
    with open(os.path.join(out, "report.md"), "w") as f:
        f.write("\n".join(md) + "\n")
    with open(os.path.join(out, "report.json"), "w") as f:
        json.dump(data, f, indent=2)
        f.write("\n")
    print("\n".join(md))


if __name__ == "__main__":
    main()
