"""`axllm serve <model_dir> [--port N]`: the current ax-llm OpenAI-style server (ax-llm src/main.cpp,
docs/configuration.md).

Stateless requests over one KV cache: every request renders its whole conversation with the chat template,
and only the part after the longest common token prefix with the KV is evaluated (the vendor's prefix
reuse). Strictly serial (`setMaxConcurrency(1)`): one request generates, the others wait in FIFO order for
up to server_timeout_ms and are then refused with 503.
"""

import collections
import os
import sys
import threading
import time

from . import VERSION, http_util
from .config import ConfigError, ServeConfig
from .http_util import BadBody, log
from .model import THINK_BLOCK, load

MEDIA_PARTS = {"image_url": "image", "image": "image", "input_image": "image", "video_url": "video",
               "video": "video", "audio_url": "audio", "audio": "audio", "input_audio": "audio"}


class ApiError(Exception):
    """An OpenAI-shaped error: `{"error": {"message", "type", "code"}}` with an HTTP status."""

    def __init__(self, status, message, kind="invalid_request_error", code=None):
        super().__init__(message)
        self.status = status
        self.body = {"error": {"message": message, "type": kind, "code": code}}


class FifoGate:
    """A one-slot gate whose waiters are admitted strictly in arrival order, each for a bounded time."""

    def __init__(self):
        self._condition = threading.Condition()
        self._waiting = collections.deque()
        self._busy = False

    def acquire(self, timeout):
        ticket = object()
        deadline = time.monotonic() + timeout
        with self._condition:
            self._waiting.append(ticket)
            while self._busy or self._waiting[0] is not ticket:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    self._waiting.remove(ticket)
                    self._condition.notify_all()  # the next in line may now be first
                    return False
                self._condition.wait(remaining)
            self._waiting.popleft()
            self._busy = True
            return True

    def release(self):
        with self._condition:
            self._busy = False
            self._condition.notify_all()


class StopFilter:
    """Applies `stop` strings to streamed text: text is passed on as soon as it cannot be the start of a
    stop string; when one appears, the text before it is passed on and generation ends there."""

    def __init__(self, stops, emit):
        self.stops = [stop for stop in stops if stop]
        self.emit = emit  # returns False when the client is gone
        self.pending = ""
        self.hit = False

    def feed(self, piece):
        """Take one token's text; False ends the generation (stop string found, or client gone)."""
        if not self.stops:
            return self.emit(piece)
        self.pending += piece
        found = [self.pending.find(stop) for stop in self.stops if stop in self.pending]
        if found:
            self.hit = True
            head, self.pending = self.pending[:min(found)], ""
            if head:
                self.emit(head)
            return False
        hold = max((size for stop in self.stops for size in range(1, len(stop))
                    if self.pending.endswith(stop[:size])), default=0)
        ready, self.pending = self.pending[:len(self.pending) - hold], self.pending[len(self.pending) - hold:]
        return self.emit(ready)

    def flush(self):
        if self.pending and not self.hit:
            self.emit(self.pending)
        self.pending = ""


class ChatRequest:
    """A validated /v1/chat/completions body."""

    def __init__(self, body, config):
        self.stream = _optional(body, "stream", bool, False)
        self.max_tokens = _optional(body, "max_tokens", int, None)
        if self.max_tokens is None:
            self.max_tokens = _optional(body, "max_completion_tokens", int, None)
        self.temperature = _optional(body, "temperature", (int, float), None)
        self.top_p = _optional(body, "top_p", (int, float), None)
        stop = body.get("stop")
        if stop is None:
            self.stop = []
        elif isinstance(stop, str):
            self.stop = [stop]
        elif isinstance(stop, list) and all(isinstance(s, str) for s in stop):
            self.stop = stop
        else:
            raise ApiError(400, "'stop' must be a string or an array of strings")
        options = body.get("stream_options")
        self.include_usage = isinstance(options, dict) and options.get("include_usage") is True
        self.thinking = config.enable_thinking
        kwargs = body.get("chat_template_kwargs")
        if isinstance(kwargs, dict) and isinstance(kwargs.get("enable_thinking"), bool):
            self.thinking = kwargs["enable_thinking"]
        if isinstance(body.get("enable_thinking"), bool):
            self.thinking = body["enable_thinking"]
        tools = body.get("tools")
        # Only the vendor's Qwen3 tokenizers know tool calling; elsewhere tools are accepted and ignored.
        self.tools = tools if isinstance(tools, list) and tools and \
            config.tokenizer_type.lower().startswith("qwen3") else None
        self.messages = _messages(body.get("messages"), allow_tool=isinstance(tools, list) and bool(tools))
        if config.system_prompt and self.messages[0]["role"] != "system":
            self.messages.insert(0, {"role": "system", "content": config.system_prompt})

    def template_arguments(self):
        extra = {}
        if self.thinking is not None:
            extra["enable_thinking"] = self.thinking
        if self.tools is not None:
            extra["tools"] = self.tools
        return extra


def _optional(body, key, kinds, default):
    """body[key] if present and not null, checked against `kinds` (a JSON true is no number here)."""
    value = body.get(key)
    if value is None:
        return default
    if not isinstance(value, kinds) or (isinstance(value, bool) and kinds is not bool):
        raise ApiError(400, "'%s' has the wrong type" % key)
    return value


def _messages(messages, allow_tool):
    if not isinstance(messages, list) or not messages:
        raise ApiError(400, "'messages' must be a non-empty array")
    roles = {"system", "user", "assistant"} | ({"tool"} if allow_tool else set())
    result = []
    for message in messages:
        if not isinstance(message, dict) or message.get("role") not in roles:
            role = message.get("role") if isinstance(message, dict) else None
            raise ApiError(400, "Failed to parse chat messages: unsupported role %r" % (role,))
        content = message.get("content")
        if content is None and message["role"] in ("assistant", "tool"):
            content = ""
        elif isinstance(content, list):
            content = "".join(_text_part(part) for part in content)  # the vendor concatenates text parts
        elif not isinstance(content, str):
            raise ApiError(400, "Failed to parse chat messages: content must be a string or an array of parts")
        kept = {key: value for key, value in message.items() if key in ("name", "tool_calls", "tool_call_id")}
        kept.update(role=message["role"], content=content)
        result.append(kept)
    return result


def _text_part(part):
    kind = part.get("type") if isinstance(part, dict) else None
    if kind == "text" and isinstance(part.get("text"), str):
        return part["text"]
    if kind in MEDIA_PARTS:
        media = MEDIA_PARTS[kind]
        needs = "an audio model" if media == "audio" else "a vision model"
        raise ApiError(400, "%s input needs %s; this model is text-only" % (media, needs))
    raise ApiError(400, "Failed to parse chat messages: unsupported content part %r" % (kind,))


class ServeApp:
    def __init__(self, config, model):
        self.config = config
        self.model = model
        self.created = int(time.time())
        self.gate = FifoGate()
        self.shutdown = threading.Event()  # set on SIGTERM: a running generation ends at the next token
        self._ids = 0
        self._ids_lock = threading.Lock()

    def next_id(self):
        with self._ids_lock:
            self._ids += 1
            return "chatcmpl-%d" % self._ids

    def models(self):
        return {"object": "list", "data": [{"id": self.config.model_name, "object": "model",
                                            "created": self.created, "owned_by": "axera"}]}

    def max_tokens(self, request):
        """ax-llm's resolve_chat_output_max_tokens: the request's value, else server_default_max_tokens,
        else server_max_output_tokens, else the whole context; then clamped to server_max_output_tokens."""
        config = self.config
        default = config.default_max_tokens if config.default_max_tokens > 0 else config.max_output_tokens
        tokens = request.max_tokens if request.max_tokens is not None else default
        if tokens is None or tokens <= 0:
            tokens = default if default > 0 else self.model.context
        if 0 < config.max_output_tokens < tokens:
            log("I", "serve", "Clamp max_tokens from %d to %d by config" % (tokens, config.max_output_tokens))
            tokens = config.max_output_tokens
        return tokens

    def sampling(self, request):
        """post_config.json's settings with the request's temperature and top_p on top (top_k and the
        repetition penalty are not per-request in the vendor server)."""
        sampling = self.config.sampling.copy()
        if request.temperature is not None:
            sampling.temperature = float(request.temperature) if request.temperature > 0 else 0.0
        if request.top_p is not None:
            sampling.top_p = float(request.top_p) if 0 < request.top_p < 1 else 1.0
        return sampling


class ServeHandler(http_util.Handler):
    log_tag = "serve"

    def do_GET(self):
        self.log_request_line()
        app = self.server.app
        if self.route == "/health":
            self.send_json(200, {"status": "ok"})
        elif self.route in ("/v1/models", "/models"):
            self.send_json(200, app.models())
        else:
            self.not_found()

    def do_POST(self):
        self.log_request_line()
        if self.route not in ("/v1/chat/completions", "/chat/completions"):
            self.discard_body()
            self.not_found()
            return
        try:
            try:
                body = self.read_json()
            except BadBody as error:
                raise ApiError(400, "invalid JSON body: %s" % error) from None
            self.chat(ChatRequest(body, self.server.app.config))
        except ApiError as error:
            self.send_json(error.status, error.body)

    def not_found(self):
        self.send_json(404, ApiError(404, "Not Found: %s %s" % (self.command, self.route),
                                     code="not_found").body)

    def chat(self, request):
        app = self.server.app
        ident = app.next_id()
        waited = time.monotonic()
        if not app.gate.acquire(app.config.timeout_ms / 1000.0):
            log("W", "serve", "%s refused: queue wait timed out after %d ms" % (ident, app.config.timeout_ms))
            raise ApiError(503, "server busy: queue wait timed out", "server_error", "server_busy")
        try:
            log("I", "serve", "%s start (waited %d ms)" % (ident, (time.monotonic() - waited) * 1000))
            self.generate(ident, request)
        finally:
            log("I", "serve", "%s end" % ident)
            app.gate.release()

    def generate(self, ident, request):
        """Render the conversation, check it fits, generate, and answer as one JSON body or an SSE stream."""
        app = self.server.app
        model = app.model
        try:
            text = model.render(request.messages, add_generation_prompt=True, **request.template_arguments())
        except Exception as error:  # a template's raise_exception, or one that cannot handle the input
            raise ApiError(400, "chat template failed: %s" % error) from None
        prompt = model.tokenize_prompt(text)
        if len(prompt) >= model.context:
            raise ApiError(400, "prompt is too long (%d tokens, context %d)" % (len(prompt), model.context),
                           code="context_length_exceeded")
        sampling = app.sampling(request)
        output = (StreamOutput if request.stream else JsonOutput)(self, ident, app.config.model_name)
        stops = StopFilter(request.stop, output.write)
        think = app.config.sim.think_tags and request.thinking is not False
        result = None
        started = time.monotonic()
        if output.begin() and (not think or output.write(THINK_BLOCK)):
            result = model.generate(prompt, sampling, max_tokens=app.max_tokens(request), cancel=app.shutdown,
                                    on_piece=stops.feed)
            log("I", "serve", "%s prefix reuse: kept %d, prefilled %d (prompt %d tokens)"
                % (ident, result.kept, result.prefilled, len(prompt)))
        if output.gone:
            log("W", "serve", "%s client disconnected, generation stopped after %d tokens"
                % (ident, len(result.tokens) if result else 0))
            self.close_connection = True
            return
        stops.flush()
        finish = "length" if result.finish == "length" else "stop"
        elapsed = max(time.monotonic() - started, 1e-6)
        log("I", "serve", "%s done: finish_reason=%s, %d prompt + %d completion tokens, %.1f tok/s, %s"
            % (ident, finish, len(prompt), len(result.tokens), len(result.tokens) / elapsed,
               sampling.describe()))
        output.finish(finish, {"prompt_tokens": len(prompt), "completion_tokens": len(result.tokens),
                               "total_tokens": len(prompt) + len(result.tokens)}, request.include_usage)

    def send_event(self, event):
        """One SSE event in its own HTTP chunk; None only checks that the client is still there."""
        if event is None:
            return not self.peer_closed()
        return self.write_chunk(b"data: " + http_util.json_bytes(event) + b"\n\n")


class JsonOutput:
    """A non-streamed answer: the reply is collected, then sent as one chat.completion object. (The client
    is not watched meanwhile: a write is what would notice it has gone, as in the vendor.)"""

    gone = False

    def __init__(self, handler, ident, model_name):
        self.handler, self.ident, self.model_name = handler, ident, model_name
        self.created = int(time.time())
        self.parts = []

    def begin(self):
        return True

    def write(self, piece):
        self.parts.append(piece)
        return True

    def finish(self, finish_reason, usage, _include_usage):
        self.handler.send_json(200, {
            "id": self.ident, "object": "chat.completion", "created": self.created, "model": self.model_name,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "".join(self.parts)},
                         "finish_reason": finish_reason}],
            "usage": usage})


class StreamOutput(JsonOutput):
    """A streamed answer: `data: {chat.completion.chunk}` events in HTTP chunks, then `data: [DONE]`.
    Every write, even of an empty piece, checks the client, so a disconnect ends the generation at once."""

    def begin(self):
        self.handler.start_chunked(200, "text/event-stream", headers=(("Cache-Control", "no-cache"),))
        return self._send(self._chunk({"role": "assistant"}))

    def write(self, piece):
        return self._send(self._chunk({"content": piece}) if piece else None)

    def finish(self, finish_reason, usage, include_usage):
        self._send(self._chunk({}, finish_reason))
        if include_usage:  # OpenAI's stream_options.include_usage: a last chunk without choices
            self._send({"id": self.ident, "object": "chat.completion.chunk", "created": self.created,
                        "model": self.model_name, "choices": [], "usage": usage})
        self.handler.write_chunk(b"data: [DONE]\n\n")
        self.handler.end_chunked()

    def _chunk(self, delta, finish_reason=None):
        return {"id": self.ident, "object": "chat.completion.chunk", "created": self.created,
                "model": self.model_name, "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}]}

    def _send(self, event):
        if not self.handler.send_event(event):
            self.gone = True
        return not self.gone


USAGE = """usage: axllm <command> [args]
  axllm serve <model_dir> [--port N]   OpenAI-compatible server (simulated by AXSim)
  axllm run <model_dir>                interactive chat (not simulated)
  axllm version                        print the version"""


def parse_serve_args(argv):
    """`<model_dir> [--port N]` (also `--port=N`); anything else is an error."""
    model_dir, port = None, None
    index = 0
    while index < len(argv):
        word = argv[index]
        index += 1
        if word == "--port" or word.startswith("--port="):
            value = word.partition("=")[2] if "=" in word else (argv[index] if index < len(argv) else "")
            index += 0 if "=" in word else 1
            if not value.isdigit() or not 0 < int(value) < 65536:
                raise ConfigError("--port needs a port number, got %r" % value)
            port = int(value)
        elif word.startswith("-") or model_dir is not None:
            raise ConfigError("unexpected argument %r" % word)
        else:
            model_dir = word
    if model_dir is None:
        raise ConfigError("serve needs a model directory")
    return model_dir, port


def main(argv):
    command = argv[0] if argv else ""
    if command in ("version", "--version", "-v"):
        http_util.say(VERSION)
        return 0
    if command in ("help", "--help", "-h"):
        http_util.say(USAGE)
        return 0
    if command == "run":
        http_util.log("E", "axllm", "AXSim does not simulate the interactive `axllm run`; use `axllm serve`")
        return 2
    if command != "serve":
        http_util.log("E", "axllm", "unknown command %r" % command if command else "no command given")
        print(USAGE, file=sys.stderr)
        return 1
    try:
        model_dir, port = parse_serve_args(argv[1:])
        config = ServeConfig(model_dir)
    except ConfigError as error:
        http_util.die(str(error))
    port = port or config.port
    log("I", "main", "%s" % VERSION)
    if os.environ.get("AXLLM_DEVICES"):
        log("I", "main", "AXLLM_DEVICES=%s (ignored: no NPU in the simulator)" % os.environ["AXLLM_DEVICES"])
    server = http_util.Server("127.0.0.1", port, ServeHandler, None)
    try:
        server.bind()
    except OSError as error:
        http_util.die("Port %d is unavailable: %s" % (port, error))
    sim = config.sim
    time.sleep(sim.load_seconds)
    model = load(sim.gguf, sim.context, sim.threads, sim.token_delay, sim.ignore_eos, config.penalty_window, log)
    log("I", "Init", "model_name: %s, tokenizer_type: %s, server_timeout_ms: %d, sampling: %s"
        % (config.model_name, config.tokenizer_type, config.timeout_ms, config.sampling.describe()))
    app = ServeApp(config, model)
    server.app = app
    server.listen()
    base = "http://127.0.0.1:%d" % port
    http_util.say("Starting server on port %d with model '%s'..." % (port, config.model_name))
    http_util.say("API URLs:\n  GET  %s/health\n  GET  %s/v1/models\n  POST %s/v1/chat/completions\n"
                  "Aliases:\n  GET  %s/models\n  POST %s/chat/completions" % (base, base, base, base, base))
    http_util.serve_until_signal(server, on_stop=app.shutdown.set)
    return 0
