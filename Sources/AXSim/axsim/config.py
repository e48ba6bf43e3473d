"""The model directory: the vendor's files, the `axsim` simulation block, post_config.json, and the
vendor-style command-line parser of the legacy binary.

A model directory is what the vendor ships next to its binaries: per-layer `.axmodel` files, a post
`.axmodel`, a token-embedding `.bin`, a tokenizer, and (for `axllm serve`) a config.json. The simulator
checks that those files exist, so a broken directory fails the way the real binary fails (stderr + exit 1,
before any port opens), and it runs the GGUF that config.json's `axsim` block names instead.
"""

import json
import os
import sys

from .model import Sampling


class ConfigError(Exception):
    """A model directory or command line the vendor binary would refuse; the message names the cause."""


def load_json(path, what="config"):
    try:
        with open(path, encoding="utf-8") as handle:
            value = json.load(handle)
    except FileNotFoundError:
        raise ConfigError("%s file not found: %s" % (what, path)) from None
    except (OSError, ValueError) as error:
        raise ConfigError("cannot read %s %s: %s" % (what, path, error)) from None
    if not isinstance(value, dict):
        raise ConfigError("%s %s is not a JSON object" % (what, path))
    return value


def resolve(path, base):
    """A path from a config file: relative paths are relative to `base` (the model directory)."""
    path = os.path.expanduser(path)
    return path if os.path.isabs(path) else os.path.join(base, path)


def require_file(path, what):
    if not os.path.isfile(path):
        raise ConfigError("%s not found: %s" % (what, path))


def check_axmodels(template, count, post, embed):
    """The NPU files every generation loads: `template % i` for each layer, the post model, the embeddings."""
    if "%d" not in template:
        raise ConfigError("template_filename_axmodel must contain %%d: %s" % template)
    if count <= 0:
        raise ConfigError("axmodel_num must be positive, got %d" % count)
    for index in range(count):
        require_file(template.replace("%d", str(index), 1), "axmodel")
    require_file(post, "post axmodel")
    require_file(embed, "tokens embed file")


def _number(block, key, default, kind, minimum):
    value = block.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (kind is int and value != int(value)):
        raise ConfigError("axsim.%s must be a%s number, got %r" % (key, "n integer" if kind is int else "", value))
    if value < minimum:
        raise ConfigError("axsim.%s must be >= %s, got %r" % (key, minimum, value))
    return kind(value)


class SimSettings:
    """The `axsim` block of config.json: what to actually run in place of the NPU model.

    gguf (required), context (KV tokens, prompt + reply; default 1024), token_delay_ms (sleep per generated
    token; default 0), think_tags (every reply starts with an empty Qwen3 think block), load_seconds
    (simulated init time), threads (llama.cpp threads; default 2), ignore_eos (simulator-only: never stop
    at an end-of-turn token, for fixed-length benchmarks and tests).
    """

    def __init__(self, config, model_dir):
        block = config.get("axsim")
        if not isinstance(block, dict):
            raise ConfigError("config.json has no \"axsim\" object naming the GGUF to simulate with")
        gguf = block.get("gguf")
        if not isinstance(gguf, str) or not gguf:
            raise ConfigError("axsim.gguf must name the GGUF file to run")
        self.gguf = resolve(gguf, model_dir)
        require_file(self.gguf, "axsim.gguf")
        self.context = _number(block, "context", 1024, int, 16)
        self.token_delay = _number(block, "token_delay_ms", 0, float, 0) / 1000.0
        self.load_seconds = _number(block, "load_seconds", 0, float, 0)
        self.threads = _number(block, "threads", 2, int, 1)
        self.think_tags = _boolean(block, "think_tags")
        self.ignore_eos = _boolean(block, "ignore_eos")


def _boolean(block, key):
    value = block.get(key, False)
    if not isinstance(value, bool):
        raise ConfigError("axsim.%s must be true or false, got %r" % (key, value))
    return value


def load_sim_settings(model_dir):
    """The `axsim` block of `<model_dir>/config.json` (the legacy binary has no other use for the file)."""
    return SimSettings(load_json(os.path.join(model_dir, "config.json")), model_dir)


def load_post_config(path):
    """Sampling defaults from the vendor's post_config.json; greedy (top_k 1) when the file is absent.

    Keys: enable_temperature, temperature, enable_repetition_penalty, repetition_penalty, penalty_window,
    enable_top_p_sampling, top_p, enable_top_k_sampling, top_k. Returns (Sampling, penalty_window).
    """
    sampling = Sampling()
    if not os.path.isfile(path):
        return sampling, 64
    post = load_json(path, "post config")
    try:
        if post.get("enable_temperature"):
            sampling.temperature = float(post.get("temperature", 0.0))
        if post.get("enable_repetition_penalty"):
            sampling.repetition_penalty = float(post.get("repetition_penalty", 1.0))
        if post.get("enable_top_p_sampling"):
            sampling.top_p = float(post.get("top_p", 1.0))
        sampling.top_k = int(post.get("top_k", 1)) if post.get("enable_top_k_sampling") else 0
        window = int(post.get("penalty_window", 64))
    except (TypeError, ValueError) as error:
        raise ConfigError("bad value in %s: %s" % (path, error)) from None
    return sampling, max(window, 0)


SERVE_REQUIRED = ("model_name", "tokenizer_type", "url_tokenizer_model", "template_filename_axmodel",
                  "axmodel_num", "filename_post_axmodel", "filename_tokens_embed", "tokens_embed_num",
                  "tokens_embed_size")


class ServeConfig:
    """`<model_dir>/config.json` as `axllm serve` reads it (ax-llm src/main.cpp + docs/configuration.md)."""

    def __init__(self, model_dir):
        self.model_dir = os.path.abspath(model_dir)
        if not os.path.isdir(self.model_dir):
            raise ConfigError("model directory not found: %s" % model_dir)
        path = os.path.join(self.model_dir, "config.json")
        raw = load_json(path)
        for key in SERVE_REQUIRED:
            if key not in raw:
                raise ConfigError("Key not found: %s (in %s)" % (key, path))
        self.raw = raw
        self.model_name = _string(raw, "model_name")
        self.tokenizer_type = _string(raw, "tokenizer_type")
        base = self.model_dir
        require_file(resolve(_string(raw, "url_tokenizer_model"), base), "tokenizer file (url_tokenizer_model)")
        check_axmodels(resolve(_string(raw, "template_filename_axmodel"), base), _integer(raw, "axmodel_num"),
                       resolve(_string(raw, "filename_post_axmodel"), base),
                       resolve(_string(raw, "filename_tokens_embed"), base))
        _integer(raw, "tokens_embed_num")
        _integer(raw, "tokens_embed_size")
        system_prompt = raw.get("system_prompt", "")
        self.system_prompt = system_prompt if isinstance(system_prompt, str) else ""
        self.port = _integer(raw, "port", 8000)
        self.timeout_ms = _integer(raw, "server_timeout_ms", 300000)
        if self.timeout_ms <= 0:  # the vendor warns and falls back the same way
            self.timeout_ms = 300000
        self.default_max_tokens = _integer(raw, "server_default_max_tokens", 0)  # 0: not set
        self.max_output_tokens = _integer(raw, "server_max_output_tokens", 0)  # 0: no clamp
        thinking = raw.get("enable_thinking")
        self.enable_thinking = thinking if isinstance(thinking, bool) else None
        post_path = resolve(raw.get("post_config_path", "post_config.json"), base)
        self.sampling, self.penalty_window = load_post_config(post_path)
        self.sim = SimSettings(raw, base)


def _string(raw, key):
    value = raw[key]
    if not isinstance(value, str):
        raise ConfigError("%s must be a string, got %r" % (key, value))
    return value


def _integer(raw, key, default=None):
    if key not in raw and default is not None:
        return default
    value = raw[key]
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError("%s must be an integer, got %r" % (key, value))
    return value


class Cmdline:
    """The vendor's cmdline.hpp parser: `--name value` or `--name=value`, typed options with defaults.

    An unknown option, a missing value or a value of the wrong type prints the error and the usage to
    stderr and exits 1, as cmdline.hpp's `parse_check` does. `-?`/`--help` prints the usage and exits 0.
    Words that are not options are ignored (cmdline.hpp collects them as "rest").
    """

    def __init__(self, program):
        self.program = program
        self.options = []  # (name, kind, default, description)

    def add(self, name, kind, default, description):
        self.options.append((name, kind, default, description))

    def usage(self):
        lines = ["usage: %s [options] ... " % self.program, "options:"]
        for name, kind, default, description in self.options:
            shown = ("%d" % default) if kind is bool else default
            lines.append("      --%-26s %s (%s [=%s])" % (name, description, _KIND_NAMES[kind], shown))
        lines.append("  -?, --%-26s %s" % ("help", "print this message"))
        return "\n".join(lines)

    def _fail(self, message):
        sys.stderr.write("%s\n%s\n" % (message, self.usage()))
        sys.exit(1)

    def parse(self, argv):
        values = {name: default for name, _kind, default, _description in self.options}
        kinds = {name: kind for name, kind, _default, _description in self.options}
        index = 0
        while index < len(argv):
            word = argv[index]
            index += 1
            if word in ("-?", "--help", "-h"):
                sys.stderr.write(self.usage() + "\n")
                sys.exit(0)
            if not word.startswith("--"):
                continue
            name, has_value, value = word[2:].partition("=")
            if name not in kinds:
                self._fail("undefined option: --%s" % name)
            if not has_value:
                if index >= len(argv):
                    self._fail("option needs value: --%s" % name)
                value = argv[index]
                index += 1
            try:
                values[name] = _convert(kinds[name], value)
            except ValueError:
                self._fail("option value is invalid: --%s=%s" % (name, value))
        return values


_KIND_NAMES = {str: "string", int: "int", bool: "bool"}


def _convert(kind, text):
    if kind is bool:
        lowered = text.strip().lower()
        if lowered in ("1", "true"):
            return True
        if lowered in ("0", "false"):
            return False
        raise ValueError(text)
    return kind(text)
