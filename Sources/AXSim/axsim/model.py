"""The language model behind the simulated NPU: llama.cpp (llama-cpp-python) on the CPU.

One `Model` owns one llama context, i.e. one KV cache, like the vendor's single LLM instance. It renders
chat templates (jinja2, from the GGUF's `tokenizer.chat_template`), tokenizes, and generates token by token
with prefix reuse: `llama_cpp.Llama.generate` keeps the longest common token prefix of what the KV already
holds and evaluates only the rest, which is how the vendor keeps a conversation's KV between turns.
"""

import codecs
import datetime
import json
import threading
import time

import jinja2
import jinja2.ext
import jinja2.sandbox
import llama_cpp

# Used when a GGUF carries no chat template (the vendor's tokenizers default to ChatML for Qwen models).
CHATML = ("{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content']"
          " + '<|im_end|>' + '\\n' }}{% endfor %}{% if add_generation_prompt %}"
          "{{ '<|im_start|>assistant\\n' }}{% endif %}")


# What a Qwen3 model with thinking switched off writes first; `think_tags` models emit it before every reply.
THINK_BLOCK = "<think>\n\n</think>\n\n"


class Sampling:
    """Sampling settings in the vendor's terms; a disabled setting has its neutral value.

    temperature <= 0 means greedy (the vendor's post-processing without temperature takes the arg-max),
    top_k 0 = off, top_p 1.0 = off, repetition_penalty 1.0 = off.
    """

    def __init__(self, temperature=0.0, top_k=0, top_p=1.0, repetition_penalty=1.0):
        self.temperature = temperature
        self.top_k = top_k
        self.top_p = top_p
        self.repetition_penalty = repetition_penalty

    def copy(self):
        return Sampling(self.temperature, self.top_k, self.top_p, self.repetition_penalty)

    def describe(self):
        if self.temperature <= 0:
            mode = "greedy"
        else:
            mode = "temperature=%g top_k=%s top_p=%s" % (self.temperature, self.top_k or "off",
                                                         self.top_p if self.top_p < 1 else "off")
        penalty = "off" if self.repetition_penalty == 1.0 else "%g" % self.repetition_penalty
        return "%s repetition_penalty=%s" % (mode, penalty)

    def llama_arguments(self):
        """Keyword arguments of `Llama.generate`: temp 0 selects llama.cpp's greedy sampler; min_p and
        typical_p are neutral because the vendor has no such settings."""
        return {"temp": max(self.temperature, 0.0), "top_k": self.top_k, "top_p": self.top_p,
                "min_p": 0.0, "typical_p": 1.0, "repeat_penalty": self.repetition_penalty}


class ChatTemplate:
    """A Hugging Face style chat template rendered with jinja2 in a sandbox, as transformers does."""

    def __init__(self, source, bos_token, eos_token):
        environment = jinja2.sandbox.ImmutableSandboxedEnvironment(
            trim_blocks=True, lstrip_blocks=True, extensions=[jinja2.ext.loopcontrols])
        environment.filters["tojson"] = _tojson
        environment.globals["raise_exception"] = _raise_exception
        environment.globals["strftime_now"] = lambda fmt: datetime.datetime.now().strftime(fmt)
        self.template = environment.from_string(source)
        self.bos_token = bos_token
        self.eos_token = eos_token

    def render(self, messages, add_generation_prompt, **extra):
        return self.template.render(messages=messages, add_generation_prompt=add_generation_prompt,
                                    bos_token=self.bos_token, eos_token=self.eos_token, **extra)


def _tojson(value, indent=None, ensure_ascii=False):
    return json.dumps(value, indent=indent, ensure_ascii=ensure_ascii)


def _raise_exception(message):
    raise jinja2.exceptions.TemplateError(message)


def common_prefix(left, right):
    count = 0
    for a, b in zip(left, right):
        if a != b:
            break
        count += 1
    return count


class Generation:
    """The outcome of one generation: text, tokens, why it ended, and what the KV reused."""

    def __init__(self, kept, prefilled):
        self.kept = kept  # prompt tokens whose KV entries were reused
        self.prefilled = prefilled  # prompt tokens evaluated for this generation
        self.text = ""
        self.tokens = []  # generated tokens, end-of-turn token excluded
        self.finish = "stop"  # stop (end of turn), length (max_tokens or KV full), cancelled, caller


class Model:
    """A loaded GGUF with one KV cache. `lock` serialises every use of the llama context."""

    def __init__(self, gguf, context=1024, threads=2, batch=512, penalty_window=64, vocab_only=False,
                 token_delay=0.0, ignore_eos=False):
        self.context = context
        self.token_delay = token_delay
        self.ignore_eos = ignore_eos
        self.lock = threading.RLock()
        self.llm = llama_cpp.Llama(
            model_path=gguf, n_ctx=max(context, 16), n_batch=batch, n_ubatch=batch, n_threads=threads,
            n_threads_batch=threads, last_n_tokens_size=max(penalty_window, 1), vocab_only=vocab_only,
            verbose=False)
        self.bos_id = self.llm.token_bos()
        self.eos_id = self.llm.token_eos()
        self.add_bos = bool(self.llm._model.add_bos_token())
        self._vocab = self.llm._model.vocab
        self.bos_text = self.token_text(self.bos_id)
        source = self.llm.metadata.get("tokenizer.chat_template") or CHATML
        self.template = ChatTemplate(source, self.bos_text, self.token_text(self.eos_id))

    def token_text(self, token):
        if token is None or token < 0:
            return ""
        return self.llm.detokenize([token], special=True).decode("utf-8", errors="replace")

    def is_eog(self, token):
        """End of generation: EOS, end of turn (`<|im_end|>`), and the other tokens llama.cpp marks so."""
        return bool(llama_cpp.llama_vocab_is_eog(self._vocab, token))

    def tokenize(self, text, add_bos=False):
        """Tokens of `text` with special tokens (`<|im_start|>`...) parsed; a BOS only on request and only
        if the GGUF says the model wants one."""
        return self.llm.tokenize(text.encode("utf-8"), add_bos=add_bos, special=True)

    def tokenize_prompt(self, text):
        """A whole rendered prompt: BOS added when the model wants it and the template did not write it."""
        wants_bos = self.add_bos and not (self.bos_text and text.startswith(self.bos_text))
        return self.tokenize(text, add_bos=wants_bos)

    def detokenize(self, tokens):
        return self.llm.detokenize(list(tokens), special=True).decode("utf-8", errors="replace")

    def render(self, messages, add_generation_prompt=True, **extra):
        return self.template.render(messages, add_generation_prompt, **extra)

    def kv_tokens(self):
        """The tokens whose KV entries the context holds, in order."""
        return self.llm.input_ids[: self.llm.n_tokens].tolist()

    def clear(self):
        """Forget the KV (the next evaluation starts at position 0)."""
        with self.lock:
            self.llm.reset()
            self.llm._ctx.kv_cache_seq_rm(-1, 0, -1)

    def prefill(self, tokens):
        """Make the KV hold exactly `tokens`, evaluating only what differs from what it holds.
        Returns (kept, evaluated)."""
        with self.lock:
            kept = common_prefix(self.kv_tokens(), tokens)
            if kept < self.llm.n_tokens:
                self.llm._ctx.kv_cache_seq_rm(-1, kept, -1)
                self.llm.n_tokens = kept
            if kept < len(tokens):
                self.llm.eval(tokens[kept:])
            return kept, len(tokens) - kept

    def _reusable(self, prompt):
        """How many prompt tokens `Llama.generate` will keep in the KV (it mirrors its rules: a prompt the
        KV already holds whole still re-evaluates its last token to refresh the logits, unless those logits
        are current)."""
        held = self.llm.n_tokens
        if held == 0:
            return 0
        same = common_prefix(self.kv_tokens(), prompt)
        if same == len(prompt):
            return same if held == same and not self.llm._requires_eval else max(same - 1, 0)
        return same

    def generate(self, prompt, sampling, max_tokens=None, cancel=None, on_piece=None, stop_ids=()):
        """Generate after `prompt` token by token, reusing the KV's common prefix.

        Ends at an end-of-generation token (or one of `stop_ids`) unless ignore_eos, after `max_tokens`
        tokens, when the KV is full (prompt + reply reach `context`: the vendor stops quietly), when `cancel`
        (a threading.Event) is set, or when `on_piece(text)` returns False. `on_piece` is called once per
        generated token with its new text, which is empty while a UTF-8 sequence split across tokens is
        incomplete (or for a special token).
        """
        if not prompt or len(prompt) > self.context:
            raise ValueError("prompt of %d tokens does not fit a context of %d" % (len(prompt), self.context))
        cancel = cancel or threading.Event()
        with self.lock:
            kept = self._reusable(prompt)
            result = Generation(kept, len(prompt) - kept)
            room = self.context - len(prompt)
            limit = room if max_tokens is None else min(room, max_tokens)
            decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
            pieces = []
            stream = self.llm.generate(prompt, **sampling.llama_arguments())
            try:
                for token in stream:  # the first step evaluates the new part of the prompt
                    if cancel.is_set():
                        result.finish = "cancelled"
                        break
                    if not self.ignore_eos and (token in stop_ids or self.is_eog(token)):
                        result.finish = "stop"
                        break
                    if len(result.tokens) >= limit:
                        result.finish = "length"
                        break
                    # The NPU's decode time, emulated; an Event wait so /api/stop cuts it short.
                    if self.token_delay > 0 and cancel.wait(self.token_delay):
                        result.finish = "cancelled"
                        break
                    result.tokens.append(token)
                    piece = decoder.decode(self.llm.detokenize([token]))
                    pieces.append(piece)
                    # Called for every token, even one with no complete text yet, so a caller that
                    # watches its client hears about it within one token.
                    if on_piece is not None and on_piece(piece) is False:
                        result.finish = "caller"
                        break
                    if len(result.tokens) >= limit:
                        result.finish = "length"
                        break
            finally:
                stream.close()
            result.text = "".join(pieces)
            return result


def load(gguf, context, threads, token_delay=0.0, ignore_eos=False, penalty_window=64, log=None):
    """Load a model for serving, logging the vendor-style init lines."""
    started = time.monotonic()
    model = Model(gguf, context=context, threads=threads, token_delay=token_delay, ignore_eos=ignore_eos,
                  penalty_window=penalty_window)
    if log is not None:
        log("I", "Init", "AXSim: simulated NPU model = %s (llama.cpp on CPU, %d threads, loaded in %.2f s)"
            % (gguf, threads, time.monotonic() - started))
        log("I", "Init", "max_token_len : %d" % context)
        log("I", "Init", "bos_id: %d, eos_id: %d" % (model.bos_id, model.eos_id))
    return model
