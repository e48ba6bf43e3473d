"""Contract smoke test of AXSim (Sources/AXSim/README.md), driven by scripts/axsim-smoke.sh.

    smoke.py <work_dir> <bin_dir> <gguf> <pid_file>

Builds model directories under <work_dir> (placeholder .axmodel/.bin files, config.json pointing at
<gguf>), starts the tokenizer service, two legacy servers and two `axllm serve` servers from <bin_dir> on
free ports, and checks every route and quirk. Each started process's PID is appended to <pid_file> so the
shell script can kill whatever is left if this driver dies. Prints one line per check group and a last line
`axsim-smoke: N checks passed` or `axsim-smoke: FAILED: ...`; exits 1 on any failure.
Every wait is a condition poll with a deadline.
"""

import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time

THINK = "<think>\n\n</think>\n\n"
CONTEXT_FULL = "error: SetKVCache failed: %d,the context may be full,please reset"


class Failure(Exception):
    """Ends a check group early (a later check would only fail because of this one)."""


class Checks:
    def __init__(self):
        self.total = 0
        self.failed = []
        self.group = None
        self.group_failures = 0
        self.group_count = 0

    def check(self, condition, what, detail=""):
        self.total += 1
        self.group_count += 1
        if not condition:
            self.group_failures += 1
            self.failed.append("%s: %s" % (self.group, what))
            print("FAIL %s: %s%s" % (self.group, what, (" -- " + str(detail)[:400]) if detail else ""),
                  file=sys.stderr, flush=True)
        return condition

    def require(self, condition, what, detail=""):
        if not self.check(condition, what, detail):
            raise Failure(what)

    def run(self, name, function, *args):
        self.group, self.group_failures, self.group_count = name, 0, 0
        started = time.monotonic()
        try:
            function(*args)
        except Failure:
            pass
        except Exception as error:  # an unexpected exception is a failed check, not a crash
            self.check(False, "unexpected %s" % type(error).__name__, error)
        status = "ok  " if self.group_failures == 0 else "FAIL"
        print("%s %-28s %2d checks, %.1f s" % (status, name, self.group_count, time.monotonic() - started),
              flush=True)


def wait_for(condition, seconds, step=0.02):
    """Poll `condition` until it returns a true value or `seconds` pass; returns the last value."""
    deadline = time.monotonic() + seconds
    while True:
        value = condition()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(step)


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_open(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


class Proc:
    """A started simulator process, its output in files under the work directory."""

    def __init__(self, name, argv, work, pid_file, env=None, cwd=None):
        self.name = name
        self.err_path = os.path.join(work, name + ".err")
        self.out_path = os.path.join(work, name + ".out")
        with open(self.out_path, "wb") as out, open(self.err_path, "wb") as err:
            self.popen = subprocess.Popen(argv, stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                                          env=dict(os.environ, **(env or {})), cwd=cwd)
        with open(pid_file, "a") as handle:
            handle.write("%d\n" % self.popen.pid)

    def log(self):
        with open(self.err_path, encoding="utf-8", errors="replace") as handle:
            return handle.read()

    def out(self):
        with open(self.out_path, encoding="utf-8", errors="replace") as handle:
            return handle.read()

    def wait_log(self, pattern, seconds, count=1):
        """The `count`-th match of regex `pattern` in the stderr log, waiting up to `seconds`."""
        def found():
            matches = list(re.finditer(pattern, self.log()))
            return matches[count - 1] if len(matches) >= count else None
        return wait_for(found, seconds)

    def count(self, pattern):
        return len(re.findall(pattern, self.log()))

    def exit_status(self, seconds):
        try:
            return self.popen.wait(timeout=seconds)
        except subprocess.TimeoutExpired:
            return None

    def terminate(self, seconds=5.0):
        """SIGTERM, then SIGKILL if it does not stop; returns the exit status after SIGTERM (None if killed)."""
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
        status = self.exit_status(seconds)
        if status is None:
            self.popen.kill()
            self.popen.wait()
        return status


def call(port, method, path, body=None, timeout=60.0, raw=None):
    """(status, headers, JSON or None, text) of one request on a fresh connection."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
        headers = {"Content-Type": "application/json"} if data is not None else {}
        connection.request(method, path, body=data, headers=headers)
        response = connection.getresponse()
        text = response.read().decode("utf-8", errors="replace")
        try:
            parsed = json.loads(text)
        except ValueError:
            parsed = None
        return response.status, response.headers, parsed, text
    finally:
        connection.close()


def stream_events(port, body, timeout=60.0):
    """(status, headers, [parsed JSON events], saw_done) of a streamed chat completion."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request("POST", "/v1/chat/completions", body=json.dumps(body).encode(),
                           headers={"Content-Type": "application/json"})
        response = connection.getresponse()
        events, done = [], False
        for line in response:
            line = line.decode("utf-8").strip()
            if line == "data: [DONE]":
                done = True
            elif line.startswith("data: "):
                events.append(json.loads(line[6:]))
        return response.status, response.headers, events, done
    finally:
        connection.close()


# --- model directories ----------------------------------------------------------------------------------

def model_dir(path, gguf, axsim, **extra):
    """A vendor-style model directory: 2 layer axmodels, post axmodel, embeddings, tokenizer placeholder."""
    os.makedirs(path, exist_ok=True)
    for name in ("smollm2_p128_l0_together.axmodel", "smollm2_p128_l1_together.axmodel", "smollm2_post.axmodel",
                 "model.embed_tokens.weight.bfloat16.bin", "smollm2_tokenizer.txt"):
        with open(os.path.join(path, name), "wb") as handle:
            handle.write(b"AXSim placeholder\n")
    config = {"model_name": "AXERA-TECH/SmolLM2-135M-Instruct", "tokenizer_type": "SmolLM2",
              "url_tokenizer_model": "smollm2_tokenizer.txt",
              "template_filename_axmodel": "smollm2_p128_l%d_together.axmodel", "axmodel_num": 2,
              "filename_post_axmodel": "smollm2_post.axmodel",
              "filename_tokens_embed": "model.embed_tokens.weight.bfloat16.bin",
              "tokens_embed_num": 49152, "tokens_embed_size": 576,
              "axsim": dict({"gguf": gguf, "threads": 1}, **axsim)}
    config.update(extra)
    with open(os.path.join(path, "config.json"), "w") as handle:
        json.dump(config, handle, indent=2)
    return path


def legacy_args(directory, tokenizer_url, axmodel_num=2):
    return ["--system_prompt", "You are a helpful assistant.",
            "--template_filename_axmodel", os.path.join(directory, "smollm2_p128_l%d_together.axmodel"),
            "--axmodel_num", str(axmodel_num),
            "--filename_post_axmodel", os.path.join(directory, "smollm2_post.axmodel"),
            "--tokenizer_type", "2", "--url_tokenizer_model", tokenizer_url,
            "--filename_tokens_embed", os.path.join(directory, "model.embed_tokens.weight.bfloat16.bin"),
            "--tokens_embed_num", "49152", "--tokens_embed_size", "576", "--use_mmap_load_embed", "1"]


# --- legacy helpers ----------------------------------------------------------------------------------------

def poll_reply(port, seconds=30.0):
    """A careful legacy client: poll until `done` after having seen the task run (or text arrive)."""
    text, started = "", False
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        _status, _headers, body, _text = call(port, "GET", "/api/generate_provider")
        text += body["response"]
        started = started or not body["done"] or bool(body["response"])
        if started and body["done"]:
            return text
        time.sleep(0.02)
    raise Failure("no reply within %.0f s (got %r)" % (seconds, text))


class Smoke:
    def __init__(self, work, bin_dir, gguf, pid_file):
        self.work, self.bin, self.gguf, self.pid_file = work, bin_dir, gguf, pid_file
        self.checks = Checks()
        self.main_dir = model_dir(os.path.join(work, "smollm2"), gguf, {"context": 1024, "token_delay_ms": 10})
        self.tiny_dir = model_dir(os.path.join(work, "tiny"), gguf,
                                  {"context": 64, "token_delay_ms": 60, "think_tags": True, "ignore_eos": True},
                                  server_timeout_ms=800)
        self.ports = {name: free_port() for name in ("tokenizer", "legacy", "legacy_tiny", "serve", "serve_tiny",
                                                     "refused")}

    def start(self, name, program, args, env=None, cwd=None):
        return Proc(name, [os.path.join(self.bin, program)] + args, self.work, self.pid_file, env, cwd)

    def start_all(self):
        """Everything at once: the loads overlap, and the 5 s tokenizer-retry refusal runs meanwhile."""
        ports = self.ports
        url = "http://127.0.0.1:%d" % ports["tokenizer"]
        self.tokenizer = self.start("tokenizer", "axsim-tokenizer", ["--port", str(ports["tokenizer"])],
                                    cwd=self.main_dir)
        delay = {"AXSIM_TASK_START_DELAY_MS": "250"}  # a wide race window: this machine may be busy
        self.legacy = self.start("legacy", "main_api_ax650", legacy_args(self.main_dir, url),
                                 dict(delay, AXSIM_LEGACY_PORT=str(ports["legacy"])))
        self.legacy_tiny = self.start("legacy_tiny", "main_api_axcl_aarch64",
                                      legacy_args(self.tiny_dir, url) + ["--devices", "0,1"],
                                      dict(delay, AXSIM_LEGACY_PORT=str(ports["legacy_tiny"])))
        self.serve = self.start("serve", "axllm", ["serve", self.main_dir, "--port", str(ports["serve"])],
                                {"AXLLM_DEVICES": "0"})
        self.serve_tiny = self.start("serve_tiny", "axllm", ["serve", self.tiny_dir, "--port=%d" % ports["serve_tiny"]])
        self.start_legacy_refusals()
        self.start_serve_refusals()

    # --- groups -------------------------------------------------------------------------------------------

    def startup(self):
        c = self.checks
        for proc, port in ((self.tokenizer, "tokenizer"), (self.legacy, "legacy"), (self.legacy_tiny, "legacy_tiny"),
                           (self.serve, "serve"), (self.serve_tiny, "serve_tiny")):
            c.require(wait_for(lambda: port_open(self.ports[port]) or proc.popen.poll() is not None, 45)
                      and proc.popen.poll() is None, "%s listens" % proc.name, proc.log()[-600:])
        c.check("AXSim" in self.legacy.log() and "AXSim" in self.serve.log(), "an AXSim line on stderr")
        c.check("max_token_len : 1024" in self.legacy.log(), "vendor-style init line")
        c.check("Server running on port %d..." % self.ports["legacy"] in self.legacy.out(), "legacy banner")
        c.check("Starting server on port %d" % self.ports["serve"] in self.serve.out()
                and "/v1/chat/completions" in self.serve.out(), "serve banner with the endpoint list")
        c.check("devices: 0,1" in self.legacy_tiny.log(), "the AXCL build takes --devices")

    def tokenizer_service(self):
        c, port = self.checks, self.ports["tokenizer"]
        _s, _h, bos, _t = call(port, "GET", "/bos_id")
        _s, _h, eos, _t = call(port, "GET", "/eos_id")
        c.check(bos == {"bos_id": 1} and eos == {"eos_id": 2}, "bos_id/eos_id of SmolLM2", (bos, eos))
        status, _h, encoded, _t = call(port, "POST", "/encode", {"text": "<|im_start|>user\nhi"})
        c.check(status == 200 and encoded["token_ids"][:2] == [1, 4093], "encode parses special tokens", encoded)
        _s, _h, decoded, _t = call(port, "POST", "/decode", {"token_ids": encoded["token_ids"]})
        c.check(decoded == {"text": "<|im_start|>user\nhi"}, "decode round-trips", decoded)
        status, _h, _j, text = call(port, "GET", "/nothing")
        c.check(status == 200 and text == "error", "unknown path: 200 \"error\" (the scripts' quirk)")

    def encode(self, text):
        return call(self.ports["tokenizer"], "POST", "/encode", {"text": text})[2]["token_ids"]

    def start_legacy_refusals(self):
        url = "http://127.0.0.1:%d" % self.ports["tokenizer"]
        runs = {
            "missing_axmodel": legacy_args(self.main_dir, url, axmodel_num=3),
            "unknown_flag": legacy_args(self.main_dir, url) + ["--port", "9000"],
            "no_value": ["--axmodel_num"],
            "devices_ax650": legacy_args(self.main_dir, url) + ["--devices", "0"],
            # Nothing listens there: refused after the vendor's 5 s of retries.
            "no_tokenizer": legacy_args(self.main_dir, "http://127.0.0.1:%d" % self.ports["refused"]),
        }
        self.legacy_refused = {}
        for name, args in runs.items():
            port = free_port()
            self.legacy_refused[name] = (self.start(name, "main_api_ax650", args,
                                                    {"AXSIM_LEGACY_PORT": str(port)}), port)

    def legacy_refusals(self):
        c = self.checks
        procs = self.legacy_refused
        for name, (proc, port) in procs.items():
            status = proc.exit_status(30)
            c.check(status == 1, "%s: exit status 1" % name, status)
            c.check(not port_open(port), "%s: no port" % name)
        c.check("lLaMa.Init failed" in procs["missing_axmodel"][0].log()
                and "smollm2_p128_l2_together.axmodel" in procs["missing_axmodel"][0].log(),
                "missing axmodel named", procs["missing_axmodel"][0].log()[-300:])
        c.check("undefined option: --port" in procs["unknown_flag"][0].log()
                and "usage:" in procs["unknown_flag"][0].log(), "unknown flag: usage")
        c.check("option needs value: --axmodel_num" in procs["no_value"][0].log(), "missing value: usage")
        c.check("undefined option: --devices" in procs["devices_ax650"][0].log(), "ax650 build has no --devices")
        log = procs["no_tokenizer"][0].log()
        c.check("lLaMa.Init failed" in log and "tokenizer service" in log,
                "unreachable tokenizer: refused after retrying", log[-300:])

    def legacy_session(self):
        c, port, proc = self.checks, self.ports["legacy"], self.legacy
        status, headers, _j, text = call(port, "OPTIONS", "/api/generate")
        c.check(status == 200 and headers.get("Access-Control-Allow-Origin") == "*", "OPTIONS 200 with CORS")
        status, headers, _j, text = call(port, "GET", "/api/nothing")
        c.check(status == 404 and text == "" and headers.get("Access-Control-Allow-Origin") == "*",
                "unknown route: 404, empty body, CORS")
        status, _h, body, _t = call(port, "POST", "/api/generate", raw=b"{nope")
        c.check(status == 400 and body == {"error": "Invalid request format"}, "bad JSON: 400", body)
        status, _h, body, _t = call(port, "POST", "/api/generate", {"temperature": 0.5})
        c.check(status == 400 and body == {"error": "Invalid request format"}, "no prompt: 400", body)

        # Asynchronous reset: answered at once, the prefill happens after (and done is already true).
        resets = proc.count(r"reset: prefill")
        status, _h, body, _t = call(port, "POST", "/api/reset", {"system_prompt": "You are a helpful assistant."})
        c.check(status == 200 and body == {"status": "ok"}, "reset answers ok", body)
        _s, _h, body, _t = call(port, "GET", "/api/generate_provider")
        c.check(body == {"response": "", "done": True}, "poll right after reset: done, empty", body)
        c.require(proc.wait_log(r"reset: prefill (\d+) new tokens", 20, count=resets + 1), "reset task ran")

        # The quirk: right after /api/generate a poll says done before the task has even started.
        status, _h, body, _t = call(port, "POST", "/api/generate", {"prompt": "What is the capital of France?"})
        c.check(status == 200 and body == {"status": "ok"}, "generate answers ok", body)
        _s, _h, body, _t = call(port, "GET", "/api/generate_provider")
        c.check(body == {"response": "", "done": True}, "poll right after generate: done, empty (race)", body)
        reply = poll_reply(port)
        c.check(len(reply.strip()) > 0, "generate -> poll loop collects a reply", reply)

        # Turn two evaluates only its own tokens: the closing of reply one, the user turn, the header.
        turn = "<|im_end|>\n<|im_start|>user\nAnd of Germany?<|im_end|>\n<|im_start|>assistant\n"
        expected = len(self.encode(turn))
        call(port, "POST", "/api/generate", {"prompt": "And of Germany?"})
        second = poll_reply(port)
        # The task's lines are logged before its generation ends, hence before poll_reply returns.
        new, kv = map(int, re.findall(r"\]: prefill (\d+) new tokens \(kv (\d+)\)", proc.log())[-1])
        kept, evaluated = map(int, re.findall(r"model: kept (\d+), evaluated (\d+)", proc.log())[-1])
        c.check(len(second.strip()) > 0, "second turn replies", second)
        c.check(new == expected and kv > 20, "second turn prefills only the new turn (%d tokens, kv %d)"
                % (new, kv), (new, expected, kv))
        c.check(kept >= kv - 1 and evaluated <= new + 1, "the KV prefix was reused (kept %d, evaluated %d)"
                % (kept, evaluated))

        # Sampling settings persist: set once, still in force for the next request.
        call(port, "POST", "/api/generate", {"prompt": "Tell me a joke.", "temperature": 0.6, "top-k": 20,
                                             "top-p": 0.9, "repetition_penalty": 1.1})
        poll_reply(port)
        set_line = "sampling: temperature=0.6 top_k=20 top_p=0.9 repetition_penalty=1.1"
        c.check(proc.count(re.escape(set_line)) == 1, "sampling applied", proc.log()[-500:])

        # A long generation: "llm is running" for everything, then /api/stop ends it at once.
        call(port, "POST", "/api/generate", {"prompt": "Write a long story about a dragon and a knight."})
        seen = wait_for(lambda: call(port, "GET", "/api/generate_provider")[2]["response"], 20)
        c.require(seen, "the long generation streams text")
        for path, payload in (("/api/generate", {"prompt": "hi"}), ("/api/reset", {}),
                              ("/api/chat", {"messages": [{"role": "user", "content": "hi"}]})):
            status, _h, body, _t = call(port, "POST", path, payload)
            c.check(status == 400 and body == {"error": "llm is running"}, "%s while running: 400" % path, body)
        c.check(proc.count(re.escape(set_line)) == 2, "sampling persisted to the next request")
        status, _h, body, _t = call(port, "GET", "/api/stop")
        stopped_at = time.monotonic()
        c.check(status == 200 and body == {"status": "ok"}, "stop answers ok", body)
        done = wait_for(lambda: call(port, "GET", "/api/generate_provider")[2]["done"], 5)
        c.check(done and time.monotonic() - stopped_at < 2.0, "the generation ended after /api/stop")
        c.check(proc.wait_log(r"stopped by /api/stop", 2), "logged as stopped")

        # /api/chat: synchronous; only the first message with role and content counts.
        status, _h, body, _t = call(port, "POST", "/api/chat", {
            "messages": [{"role": "user"}, {"role": "user", "content": "Say hi"}], "temperature": 0})
        c.check(status == 200 and body.get("done") is True and body.get("message", "").strip(),
                "/api/chat answers synchronously", body)
        c.check("sampling: greedy repetition_penalty=1.1" in proc.log(), "temperature 0 -> greedy, penalty kept")
        status, _h, body, _t = call(port, "POST", "/api/chat", {"messages": [{"content": "no role"}]})
        c.check(status == 400 and body == {"error": "Invalid message format"}, "/api/chat without a message", body)

    def legacy_context(self):
        c, port, proc = self.checks, self.ports["legacy_tiny"], self.legacy_tiny
        call(port, "POST", "/api/generate", {"prompt": "Hi"})
        reply = poll_reply(port)
        c.check(reply.startswith(THINK) and len(reply) > len(THINK), "think_tags: the reply opens with <think>",
                reply[:80])
        c.check(proc.wait_log(r"kv cache full", 2), "generation stopped quietly at a full KV")
        call(port, "POST", "/api/generate", {"prompt": "Hi again"})
        reply = poll_reply(port)
        c.check(reply == CONTEXT_FULL, "a full context answers the vendor's literal text", reply)
        status, _h, body, _t = call(port, "POST", "/api/reset", {})
        c.check(status == 200, "not left running after the context-full error", body)

    def start_serve_refusals(self):
        broken = os.path.join(self.work, "broken")
        model_dir(broken, self.gguf, {})
        with open(os.path.join(broken, "config.json")) as handle:
            config = json.load(handle)
        del config["axmodel_num"]
        with open(os.path.join(broken, "config.json"), "w") as handle:
            json.dump(config, handle)
        missing = model_dir(os.path.join(self.work, "missing"), self.gguf, {})
        os.remove(os.path.join(missing, "smollm2_post.axmodel"))
        no_sim = model_dir(os.path.join(self.work, "no_sim"), self.gguf, {})
        with open(os.path.join(no_sim, "config.json")) as handle:
            config = json.load(handle)
        del config["axsim"]
        with open(os.path.join(no_sim, "config.json"), "w") as handle:
            json.dump(config, handle)
        self.serve_refused = {}
        for name, directory in (("no_key", broken), ("no_file", missing), ("no_axsim", no_sim)):
            port = free_port()
            self.serve_refused[name] = (self.start("serve_" + name, "axllm", ["serve", directory, "--port", str(port)]),
                                        port)

    def serve_refusals(self):
        c = self.checks
        runs = self.serve_refused
        for name, (proc, port) in runs.items():
            c.check(proc.exit_status(30) == 1, "%s: exit status 1" % name, proc.log()[-300:])
            c.check(not port_open(port), "%s: no port" % name)
        c.check("Key not found: axmodel_num" in runs["no_key"][0].log(), "the missing key is named")
        c.check("smollm2_post.axmodel" in runs["no_file"][0].log(), "the missing file is named")
        c.check("axsim" in runs["no_axsim"][0].log(), "a config without the axsim block is refused")
        version = subprocess.run([os.path.join(self.bin, "axllm"), "version"], capture_output=True, text=True)
        c.check(version.returncode == 0 and "AXSim" in version.stdout, "axllm version says AXSim")
        run = subprocess.run([os.path.join(self.bin, "axllm"), "run", self.main_dir], capture_output=True,
                             text=True, stdin=subprocess.DEVNULL)
        c.check(run.returncode == 2, "axllm run is refused with status 2", run.returncode)

    def serve_basics(self):
        c, port, proc = self.checks, self.ports["serve"], self.serve
        status, _h, body, _t = call(port, "GET", "/health")
        c.check(status == 200 and body == {"status": "ok"}, "/health", body)
        for path in ("/v1/models", "/models"):
            status, _h, body, _t = call(port, "GET", path)
            data = (body or {}).get("data") or [{}]
            c.check(status == 200 and body.get("object") == "list" and data[0].get("id")
                    == "AXERA-TECH/SmolLM2-135M-Instruct" and data[0].get("owned_by") == "axera"
                    and isinstance(data[0].get("created"), int), path, body)
        messages = [{"role": "system", "content": "You are a helpful assistant."},
                    {"role": "user", "content": "What is 2+2?"}]
        status, _h, body, _t = call(port, "POST", "/v1/chat/completions",
                                    {"model": "anything", "messages": messages, "max_tokens": 24})
        choice = (body or {}).get("choices", [{}])[0]
        usage = (body or {}).get("usage", {})
        c.require(status == 200 and body.get("object") == "chat.completion" and body["id"].startswith("chatcmpl-")
                  and body.get("model") == "AXERA-TECH/SmolLM2-135M-Instruct", "non-stream answer", body)
        answer = choice["message"]["content"]
        c.check(choice["message"]["role"] == "assistant" and answer.strip()
                and choice["finish_reason"] in ("stop", "length"), "non-stream message", choice)
        c.check(usage.get("total_tokens") == usage.get("prompt_tokens", 0) + usage.get("completion_tokens", 0)
                and 0 < usage.get("completion_tokens", 0) <= 24, "usage", usage)
        prompt_tokens = usage["prompt_tokens"]

        # The continued conversation reuses the KV: only the new tail is prefilled.
        follow = messages + [{"role": "assistant", "content": answer}, {"role": "user", "content": "And 3+3?"}]
        status, _h, body, _t = call(port, "POST", "/v1/chat/completions", {"messages": follow, "max_tokens": 8})
        c.check(status == 200, "continued conversation", body)
        kept, prefilled, total = map(int, re.findall(r"prefix reuse: kept (\d+), prefilled (\d+) \(prompt (\d+)",
                                                     proc.log())[-1])
        c.check(kept >= prompt_tokens and kept + prefilled == total and prefilled <= total - prompt_tokens,
                "prefix reuse: kept %d, prefilled %d of %d" % (kept, prefilled, total))

        status, headers, events, done = stream_events(port, {"messages": messages, "max_tokens": 6, "stream": True})
        c.require(status == 200 and headers.get("Content-Type", "").startswith("text/event-stream") and done,
                  "stream: SSE ending in [DONE]", (status, dict(headers)))
        c.check(headers.get("Transfer-Encoding") == "chunked", "stream: chunked framing")
        c.check(events[0]["choices"][0]["delta"] == {"role": "assistant"}, "stream: role first", events[0])
        pieces = [e["choices"][0]["delta"].get("content") for e in events[1:-1]]
        c.check(all(isinstance(p, str) and p for p in pieces) and pieces, "stream: content pieces", pieces)
        last = events[-1]["choices"][0]
        c.check(last["delta"] == {} and last["finish_reason"] == "length", "stream: finish chunk", last)
        c.check(all(e["object"] == "chat.completion.chunk" and e["id"] == events[0]["id"] for e in events),
                "stream: chunk objects share one id")

        status, _h, body, _t = call(port, "POST", "/v1/chat/completions", {"messages": messages, "max_tokens": 2})
        c.check(body["choices"][0]["finish_reason"] == "length" and body["usage"]["completion_tokens"] == 2,
                "max_tokens -> finish_reason length", body)
        status, _h, body, _t = call(port, "POST", "/v1/chat/completions",
                                    {"messages": messages, "max_tokens": 24, "stop": ["4"]})
        content = body["choices"][0]["message"]["content"]
        c.check("4" not in content and body["choices"][0]["finish_reason"] == "stop"
                and (not answer.count("4") or answer.startswith(content)), "stop string cuts the reply",
                (content, answer))

        errors = (("bad JSON", None, b"{nope", 400), ("bad role", {"messages": [{"role": "robot", "content": "x"}]},
                                                      None, 400),
                  ("tool without tools", {"messages": [{"role": "tool", "content": "x"}]}, None, 400),
                  ("image part", {"messages": [{"role": "user", "content": [
                      {"type": "text", "text": "what is this?"},
                      {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}]}]}, None, 400))
        for name, payload, raw, expected in errors:
            status, _h, body, _t = call(port, "POST", "/v1/chat/completions", payload, raw=raw)
            error = (body or {}).get("error", {})
            c.check(status == expected and error.get("type") == "invalid_request_error" and error.get("message"),
                    "%s: 400 OpenAI error" % name, body)
        c.check("vision model" in error.get("message", ""), "image input needs a vision model")
        status, _h, body, _t = call(port, "GET", "/v1/unknown")
        c.check(status == 404 and "error" in (body or {}), "unknown route: 404", body)

    def serve_serial(self):
        """Two requests at once: the second waits for the first, then both succeed."""
        c, port, proc = self.checks, self.ports["serve"], self.serve
        results = {}

        def ask(name, question):
            results[name] = call(port, "POST", "/v1/chat/completions", {
                "messages": [{"role": "user", "content": question}], "max_tokens": 12})

        starts = proc.count(r"chatcmpl-\d+ start")
        first = threading.Thread(target=ask, args=("first", "Name a color."))
        first.start()
        c.require(proc.wait_log(r"chatcmpl-\d+ start", 20, count=starts + 1), "first request started")
        second = threading.Thread(target=ask, args=("second", "Name an animal."))
        second.start()
        first.join(60)
        second.join(60)
        c.check(results.get("first", [0])[0] == 200 and results.get("second", [0])[0] == 200, "both answered 200")
        a_id = results["first"][2]["id"]
        b_id = results["second"][2]["id"]
        # "end" is logged just after the answer is sent, so it may still be on its way.
        proc.wait_log(r"%s end\b" % re.escape(b_id), 5)
        log = proc.log()
        order = [next((m.start() for m in re.finditer(r"%s %s\b" % (re.escape(ident), event), log)), -1)
                 for ident, event in ((a_id, "start"), (a_id, "end"), (b_id, "start"), (b_id, "end"))]
        c.check(-1 not in order and order == sorted(order), "served one after the other", order)
        waited = re.search(r"%s start \(waited (\d+) ms\)" % re.escape(b_id), log)
        c.check(waited and int(waited.group(1)) > 0, "the second one waited in the queue")

    def serve_tiny_checks(self):
        c, port, proc = self.checks, self.ports["serve_tiny"], self.serve_tiny
        long_prompt = "Please summarise: " + " ".join(["the quick brown fox jumps over the lazy dog"] * 12)
        status, _h, body, _t = call(port, "POST", "/v1/chat/completions",
                                    {"messages": [{"role": "user", "content": long_prompt}]})
        error = (body or {}).get("error", {})
        c.check(status == 400 and error.get("code") == "context_length_exceeded"
                and re.match(r"prompt is too long \(\d+ tokens, context 64\)", error.get("message", "")),
                "prompt too long: 400 context_length_exceeded", body)

        hi = [{"role": "user", "content": "Hi"}]
        status, _h, body, _t = call(port, "POST", "/v1/chat/completions", {"messages": hi, "max_tokens": 2})
        c.check(body["choices"][0]["message"]["content"].startswith(THINK), "think_tags: reply opens with <think>",
                body)
        no_think = {"messages": hi, "max_tokens": 2, "chat_template_kwargs": {"enable_thinking": False}}
        status, _h, body, _t = call(port, "POST", "/v1/chat/completions", no_think)
        c.check(not body["choices"][0]["message"]["content"].startswith("<think>"), "enable_thinking false: no tags",
                body)

        # A stream that fills the KV (ignore_eos) holds the server; a second request times out in the queue.
        outcome = {}
        starts = proc.count(r"chatcmpl-\d+ start")
        holder = threading.Thread(target=lambda: outcome.update(
            stream=stream_events(port, {"messages": hi, "stream": True})))
        holder.start()
        c.require(proc.wait_log(r"chatcmpl-\d+ start", 20, count=starts + 1), "the long stream started")
        began = time.monotonic()
        status, _h, body, _t = call(port, "POST", "/v1/chat/completions", {"messages": hi, "max_tokens": 2})
        waited = time.monotonic() - began
        c.check(status == 503 and body["error"]["code"] == "server_busy" and 0.7 < waited < 10,
                "queue wait over server_timeout_ms: 503 server_busy (%.2f s)" % waited, body)
        holder.join(60)
        _status, _headers, events, done = outcome.get("stream", (0, {}, [{}], False))
        c.check(done and events[-1]["choices"][0]["finish_reason"] == "length", "a full KV ends with length")
        c.check(proc.wait_log(r"done: finish_reason=length, (\d+) prompt \+ (\d+) completion", 2)
                and sum(map(int, re.findall(r"done: finish_reason=length, (\d+) prompt \+ (\d+) completion",
                                            proc.log())[-1])) == 64, "prompt + completion fill the context")

        # The client goes away mid-stream: the generation stops at once.
        sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        payload = json.dumps({"messages": hi, "stream": True}).encode()
        sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Content-Length: %d\r\n\r\n%s" % (len(payload), payload))
        received = b""
        while received.count(b'"content"') < 3:
            data = sock.recv(4096)
            if not data:
                break
            received += data
        sock.close()
        closed = time.monotonic()
        match = proc.wait_log(r"client disconnected, generation stopped after (\d+) tokens", 5)
        c.check(match and time.monotonic() - closed < 1.5, "disconnect stops the generation (log line)")
        c.check(match and int(match.group(1)) <= 6, "within a token or so of the disconnect",
                match.group(0) if match else None)
        status, _h, body, _t = call(port, "POST", "/v1/chat/completions", {"messages": hi, "max_tokens": 1})
        c.check(status == 200, "served again after the disconnect", body)

    def signals(self):
        c = self.checks
        for proc, port in ((self.legacy, "legacy"), (self.serve, "serve"), (self.tokenizer, "tokenizer")):
            status = proc.terminate()
            c.check(status == 0, "%s: SIGTERM -> exit 0" % proc.name, status)
            c.check(not port_open(self.ports[port]), "%s: port closed" % proc.name)
        c.check("server stopped" in self.serve.log(), "clean stop logged")
        self.legacy_tiny.popen.send_signal(signal.SIGINT)
        status = self.legacy_tiny.exit_status(5)
        c.check(status == 0, "SIGINT stops the legacy server", status)
        self.serve_tiny.terminate()

    def run(self):
        started = time.monotonic()
        self.start_all()
        c = self.checks
        c.run("startup", self.startup)
        if c.failed:
            return self.finish(started)
        c.run("tokenizer service", self.tokenizer_service)
        c.run("legacy: refusals", self.legacy_refusals)
        c.run("legacy: session", self.legacy_session)
        c.run("legacy: context + think", self.legacy_context)
        c.run("serve: refusals", self.serve_refusals)
        c.run("serve: routes", self.serve_basics)
        c.run("serve: serial queue", self.serve_serial)
        c.run("serve: timeout, disconnect", self.serve_tiny_checks)
        c.run("signals", self.signals)
        return self.finish(started)

    def finish(self, started):
        c = self.checks
        elapsed = time.monotonic() - started
        if c.failed:
            print("axsim-smoke: FAILED: %d of %d checks failed (%s) in %.1f s"
                  % (len(c.failed), c.total, "; ".join(c.failed[:3]), elapsed))
            return 1
        print("axsim-smoke: %d checks passed in %.1f s" % (c.total, elapsed))
        return 0


if __name__ == "__main__":
    if len(sys.argv) != 5:
        sys.exit(__doc__)
    sys.exit(Smoke(*sys.argv[1:]).run())
