"""The legacy server `main_api_ax650` / `main_api_axcl_aarch64` (ax-llm src/main_api.cpp, cpp-httplib).

One stateful chat session behind five routes. The vendor's design, reproduced with its quirks:

* A worker thread runs tasks (reset, generate) from a FIFO queue. The global `running` flag is set INSIDE
  the task, not by the HTTP handler, so a poll right after `/api/generate` can see `done: true` with an
  empty response before the task has started. The simulator makes that window real and observable: the
  worker picks a task up only after AXSIM_TASK_START_DELAY_MS (default 50 ms).
* `/api/reset` and `/api/generate` answer `{"status": "ok"}` immediately; the work happens afterwards.
* Replies reach the client through a queue of text pieces drained by `/api/generate_provider` polls.
* Sampling settings sent with a request persist for all later requests (one global post-processing config).
* The KV keeps the whole conversation: each turn evaluates only its own new tokens.
"""

import json
import os
import queue
import threading
import time
import urllib.error
import urllib.request

from . import http_util
from .config import Cmdline, ConfigError, check_axmodels, load_post_config, load_sim_settings, require_file
from .http_util import BadBody, log
from .model import THINK_BLOCK, common_prefix, load

CONTEXT_FULL = "error: SetKVCache failed: %d,the context may be full,please reset"  # sic: never formatted


def make_cmdline(program, axcl):
    """The options of the vendor binary (its cmdline.hpp declarations); defaults are the demo's paths."""
    cmd = Cmdline(program)
    cmd.add("system_prompt", str, "", "system prompt")
    cmd.add("template_filename_axmodel", str, "tinyllama-int8/tinyllama_l%d.axmodel", "axmodel path template")
    cmd.add("axmodel_num", int, 22, "num of axmodel(for template)")
    cmd.add("filename_post_axmodel", str, "tinyllama-int8/tinyllama_post.axmodel", "post axmodel path")
    cmd.add("tokenizer_type", int, 2, "tokenizer type (2 = HTTP tokenizer service)")
    cmd.add("url_tokenizer_model", str, "http://127.0.0.1:12345", "tokenizer url (type 2) or file")
    cmd.add("filename_tokens_embed", str, "tinyllama-int8/model.embed_tokens.weight.bfloat16.bin",
            "tokens embed path")
    cmd.add("tokens_embed_num", int, 32000, "tokens embed num")
    cmd.add("tokens_embed_size", int, 2048, "tokens embed size")
    cmd.add("use_mmap_load_embed", bool, False, "it can save os memory")
    if axcl:
        cmd.add("devices", str, "0", "devices, e.g. 0,1")
    return cmd


class HttpTokenizer:
    """The client side of the tokenizer protocol (`--tokenizer_type 2`)."""

    def __init__(self, url):
        self.url = url.rstrip("/")

    def _call(self, path, body=None, timeout=5.0):
        data = None if body is None else json.dumps(body).encode("utf-8")
        request = urllib.request.Request(self.url + path, data=data, method="GET" if body is None else "POST",
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            return json.loads(answer.read().decode("utf-8"))

    def wait_ready(self, seconds=5.0):
        """(bos_id, eos_id), retrying for `seconds` as the vendor does while its script starts."""
        deadline = time.monotonic() + seconds
        while True:
            try:
                return int(self._call("/bos_id")["bos_id"]), int(self._call("/eos_id")["eos_id"])
            except (OSError, ValueError, KeyError, TypeError) as error:
                if time.monotonic() >= deadline:
                    raise ConfigError("tokenizer service %s not reachable: %s" % (self.url, error)) from None
                time.sleep(0.1)

    def encode(self, text):
        ids = self._call("/encode", {"text": text}, timeout=30.0)["token_ids"]
        return [int(i) for i in ids]


class LocalTokenizer:
    """Any other tokenizer type: the vendor loads a tokenizer file; the simulator uses the GGUF's vocab."""

    def __init__(self, model):
        self.model = model

    def encode(self, text):
        return self.model.tokenize(text)


class Session:
    """What the KV holds: the messages, the rendered text they make, and the tokens."""

    def __init__(self):
        self.messages = []
        self.text = ""
        self.tokens = []


class LegacyApp:
    """The session, the worker and the operations behind the routes (each returns (status, JSON))."""

    def __init__(self, model, tokenizer, sim, sampling, system_prompt, eos_id, start_delay):
        self.model = model
        self.tokenizer = tokenizer
        self.sim = sim
        self.sampling = sampling
        self.system_prompt = system_prompt
        self.stop_ids = {eos_id} if eos_id >= 0 else set()
        self.start_delay = start_delay
        self.session = Session()
        self.state = threading.Lock()  # guards running, sampling, pieces
        self.running = False
        self.pieces = []  # the vendor's message queue
        self.pieces_pushed = False  # in this run, for the timeline
        self.stop_event = threading.Event()
        self.tasks = queue.Queue()
        threading.Thread(target=self._worker, name="legacy-worker", daemon=True).start()

    # --- the running flag ------------------------------------------------------------------------------

    def _claim(self):
        with self.state:
            if self.running:
                return False
            self.running = True
            return True

    def _release(self):
        with self.state:
            self.running = False

    def is_running(self):
        with self.state:
            return self.running

    def _push(self, piece):
        with self.state:
            first = not self.pieces_pushed
            self.pieces_pushed = True
            self.pieces.append(piece)
        if first:
            http_util.timeline("first piece")

    # --- HTTP-facing operations: (status, JSON) -----------------------------------------------------------

    def reset(self, body):
        if self.is_running():
            return 400, {"error": "llm is running"}
        system_prompt = body.get("system_prompt", self.system_prompt)
        if not isinstance(system_prompt, str):
            return 400, {"error": "Invalid request format"}
        self.tasks.put(lambda: self._reset_task(system_prompt))
        return 200, {"status": "ok"}

    def generate(self, body):
        prompt = body.get("prompt")
        if not isinstance(prompt, str):
            return 400, {"error": "Invalid request format"}
        if self.is_running():
            return 400, {"error": "llm is running"}
        if not self.apply_sampling(body):
            return 400, {"error": "Invalid request format"}
        self.tasks.put(lambda: self._run_task(prompt))
        http_util.timeline("generate")
        return 200, {"status": "ok"}

    def provider(self):
        # `running` is read before draining: when it is already false, every piece has been queued. (The
        # vendor drains first, so its last poll can race the end of a generation; see the README.)
        with self.state:
            done = not self.running
            text = "".join(self.pieces)
            self.pieces.clear()
        return 200, {"response": text, "done": done}

    def stop(self):
        self.stop_event.set()
        return 200, {"status": "ok"}

    def chat(self, body):
        messages = body.get("messages")
        prompt = None
        if isinstance(messages, list):
            for message in messages:  # the vendor uses only the first message with both keys
                if isinstance(message, dict) and isinstance(message.get("role"), str) \
                        and isinstance(message.get("content"), str):
                    prompt = message["content"]
                    break
        if prompt is None:
            return 400, {"error": "Invalid message format"}
        if not self._claim():
            return 400, {"error": "llm is running"}
        try:
            if not self.apply_sampling(body):
                return 400, {"error": "Invalid request format"}
            self.stop_event.clear()
            reply = []
            self._turn(prompt, reply.append)
            return 200, {"message": "".join(reply), "done": True}
        finally:
            self._release()

    def apply_sampling(self, body):
        """The vendor's set_llm_config: settings persist; False when a value is not a number."""
        keys = ("temperature", "repetition_penalty", "top-p", "top-k")
        values = {key: body[key] for key in keys if key in body}
        if any(isinstance(v, bool) or not isinstance(v, (int, float)) for v in values.values()):
            return False
        with self.state:
            sampling = self.sampling
            if "temperature" in values:
                sampling.temperature = float(values["temperature"]) if values["temperature"] > 0 else 0.0
                log("I", "set_llm_config", "temperature: %f" % values["temperature"])
            if "repetition_penalty" in values:
                penalty = float(values["repetition_penalty"])
                if penalty - 1 < 0.0001:
                    log("I", "set_llm_config", "repetition_penalty: %f is skip" % penalty)
                else:
                    sampling.repetition_penalty = penalty
                    log("I", "set_llm_config", "repetition_penalty: %f" % penalty)
            if "top-p" in values:
                top_p = float(values["top-p"])
                sampling.top_p = top_p if 0 < top_p < 1 else 1.0
                log("I", "set_llm_config", "top-p: %f" % top_p)
            if "top-k" in values:
                top_k = int(values["top-k"])
                sampling.top_k = top_k if top_k > 0 else 0
                log("I", "set_llm_config", "top-k: %d" % top_k)
        return True

    # --- the worker ------------------------------------------------------------------------------------

    def _worker(self):
        while True:
            task = self.tasks.get()
            # The simulated gap between the HTTP answer and the task setting `running` (see module doc).
            time.sleep(self.start_delay)
            try:
                task()
            except Exception as error:  # e.g. the tokenizer service died; the worker must live on
                log("E", "worker", "task failed: %r" % error)

    def _reset_task(self, system_prompt):
        if not self._claim():
            return
        try:
            messages = [{"role": "system", "content": system_prompt}] if system_prompt else []
            text = self._render_system(messages)
            tokens = self._with_bos(self.tokenizer.encode(text) if text else [])  # the KV starts empty
            with self.model.lock:
                self.model.clear()
                self.model.prefill(tokens)
                self.session.messages, self.session.text, self.session.tokens = messages, text, tokens
            log("I", "Reset", "reset: prefill %d new tokens (kv %d)" % (len(tokens), len(tokens)))
        finally:
            self._release()

    def _run_task(self, prompt):
        if not self._claim():
            return
        try:
            self.stop_event.clear()  # a stop sent before the task started is lost, as in the vendor
            with self.state:
                self.pieces_pushed = False
            self._turn(prompt, self._push)
        finally:
            self._release()

    def _render_system(self, messages):
        if not messages:
            return ""
        try:
            return self.model.render(messages, add_generation_prompt=False)
        except Exception as error:  # some templates refuse a conversation without a user turn
            log("W", "Reset", "chat template cannot render a lone system turn (%s); using ChatML" % error)
            return "<|im_start|>system\n%s<|im_end|>\n" % messages[0]["content"]

    def _with_bos(self, tokens):
        """The first tokens of an empty KV, with the BOS the GGUF asks for (the service adds none)."""
        if self.model.add_bos and (not tokens or tokens[0] != self.model.bos_id):
            return [self.model.bos_id] + tokens
        return tokens

    def _turn(self, prompt, sink):
        """One conversation turn: prefill the new turn's tokens after the KV, generate into `sink`."""
        with self.model.lock:
            session = self.session
            messages = session.messages + [{"role": "user", "content": prompt}]
            full = self.model.render(messages, add_generation_prompt=True)
            # The new turn is what the conversation adds to the text the KV holds: the closing of the last
            # reply, the user turn, and the assistant header.
            start = len(session.text) if full.startswith(session.text) else common_prefix(session.text, full)
            new = self.tokenizer.encode(full[start:])
            if not session.tokens:
                new = self._with_bos(new)
            if len(session.tokens) + len(new) > self.sim.context:
                log("E", "Run", "SetKVCache failed: kv %d + %d new tokens > max_token_len %d"
                    % (len(session.tokens), len(new), self.sim.context))
                sink(CONTEXT_FULL)
                return
            log("I", "Run", "prefill %d new tokens (kv %d)" % (len(new), len(session.tokens)))
            with self.state:
                sampling = self.sampling.copy()
            log("I", "Run", "sampling: %s" % sampling.describe())
            if self.sim.think_tags:
                sink(THINK_BLOCK)

            def emit(piece):
                if piece:  # the vendor's callback skips empty strings
                    sink(piece)
                return True

            started = time.monotonic()
            result = self.model.generate(session.tokens + new, sampling, cancel=self.stop_event,
                                         on_piece=emit, stop_ids=self.stop_ids)
            elapsed = max(time.monotonic() - started, 1e-6)
            ending = {"stop": "end of turn", "length": "kv cache full", "cancelled": "stopped by /api/stop"}
            log("I", "Run", "model: kept %d, evaluated %d; generated %d tokens in %.2f s (%.1f tok/s), %s"
                % (result.kept, result.prefilled, len(result.tokens), elapsed, len(result.tokens) / elapsed,
                   ending.get(result.finish, result.finish)))
            session.messages = messages + [{"role": "assistant", "content": result.text}]
            session.text = full + result.text
            session.tokens = session.tokens + new + result.tokens


class LegacyHandler(http_util.Handler):
    log_tag = "main_api"
    extra_headers = (("Access-Control-Allow-Origin", "*"),)

    def do_OPTIONS(self):
        self.log_request_line()
        self.send_bytes(200, b"", content_type=None, headers=(
            ("Access-Control-Allow-Methods", "GET, POST, OPTIONS"),
            ("Access-Control-Allow-Headers", "Content-Type")))

    def do_GET(self):
        self.log_request_line()
        app = self.server.app
        if self.route == "/api/generate_provider":
            self.send_json(*app.provider())
        elif self.route == "/api/stop":
            self.send_json(*app.stop())
        else:
            self.send_bytes(404, b"", content_type=None)

    def do_POST(self):
        self.log_request_line()
        app = self.server.app
        routes = {"/api/reset": app.reset, "/api/generate": app.generate, "/api/chat": app.chat}
        operation = routes.get(self.route)
        if operation is None:
            self.discard_body()
            self.send_bytes(404, b"", content_type=None)
            return
        try:
            body = self.read_json()
        except BadBody:
            message = "Invalid message format" if self.route == "/api/chat" else "Invalid request format"
            self.send_json(400, {"error": message})
            return
        self.send_json(*operation(body))


def init_failed(reason):
    log("E", "Init", reason)
    http_util.die("lLaMa.Init failed: %s" % reason)


def main(program, argv):
    axcl = program.startswith("main_api_axcl")
    options = make_cmdline(program, axcl).parse(argv)
    log("I", "main", "AXSim %s: simulated ax-llm legacy server (llama.cpp on CPU, no NPU)" % program)
    if axcl:
        log("I", "main", "devices: %s" % options["devices"])
    try:
        check_axmodels(options["template_filename_axmodel"], options["axmodel_num"],
                       options["filename_post_axmodel"], options["filename_tokens_embed"])
        model_dir = os.path.dirname(os.path.abspath(options["filename_post_axmodel"]))
        sim = load_sim_settings(model_dir)
        sampling, window = load_post_config(os.path.join(model_dir, "post_config.json"))
        if options["tokenizer_type"] == 2:
            tokenizer = HttpTokenizer(options["url_tokenizer_model"])
            _bos, eos_id = tokenizer.wait_ready()
        else:
            require_file(options["url_tokenizer_model"], "tokenizer file")
            tokenizer, eos_id = None, -1
    except ConfigError as error:
        init_failed(str(error))
    port = int(os.environ.get("AXSIM_LEGACY_PORT") or 8000)  # the vendor's port is hard-coded 8000
    start_delay = float(os.environ.get("AXSIM_TASK_START_DELAY_MS") or 50) / 1000.0
    server = http_util.Server("127.0.0.1", port, LegacyHandler, None)
    try:
        server.bind()
    except OSError as error:
        http_util.die(str(error))
    time.sleep(sim.load_seconds)
    model = load(sim.gguf, sim.context, sim.threads, sim.token_delay, sim.ignore_eos, window, log)
    if tokenizer is None:
        tokenizer = LocalTokenizer(model)
    log("I", "Init", "sampling defaults: %s" % sampling.describe())
    app = LegacyApp(model, tokenizer, sim, sampling, options["system_prompt"], eos_id, start_delay)
    app._reset_task(options["system_prompt"])  # the system prompt is in the KV before the port opens
    server.app = app
    server.listen()
    http_util.say("Server running on port %d..." % port)
    log("I", "main", "listening on http://127.0.0.1:%d (task start delay %d ms)" % (port, start_delay * 1000))
    http_util.serve_until_signal(server, on_stop=app.stop_event.set)
