"""The baseline: the same libllama the worker loads, driven directly through llama-cpp-python's low-level
ctypes bindings (the C API, one call per step; not the high-level `Llama` class, whose helpers do extra work).

The loop is what a minimal C program would do (llama.cpp's `simple` example): tokenize, decode the prompt in
batches of n_batch, then greedy-sample one token at a time, turning each into text as the worker does.
"""

import ctypes
import json
import os
import sys
import time

import llama_cpp as L

import prompts  # this directory is on sys.path: run as a script, or imported by bench.py

# Same shape as the worker's per-request context where it matters for speed: 2 threads, batches of 512.
N_CTX = 4096
N_BATCH = 512
THREADS = 2


def _silence_llama_log():
    # llama.cpp logs every load detail to stderr; the callback must stay referenced while the library lives.
    global _log_callback
    _log_callback = L.llama_log_callback(lambda level, text, user: None)
    L.llama_log_set(_log_callback, ctypes.c_void_p())


class Direct:
    def __init__(self, model_path: str, n_ctx: int = N_CTX, n_seq_max: int = 1, kv_unified: bool = True):
        _silence_llama_log()
        L.llama_backend_init()
        mparams = L.llama_model_default_params()
        mparams.n_gpu_layers = -1  # as the worker does; a CPU build ignores it
        self.model = L.llama_model_load_from_file(model_path.encode(), mparams)
        if not self.model:
            raise RuntimeError(f"llama.cpp could not load {model_path}")
        cparams = L.llama_context_default_params()
        cparams.n_ctx = n_ctx
        cparams.n_batch = N_BATCH
        cparams.n_ubatch = N_BATCH
        cparams.n_threads = THREADS
        cparams.n_threads_batch = THREADS
        cparams.n_seq_max = n_seq_max
        cparams.kv_unified = kv_unified
        cparams.no_perf = True
        self.ctx = L.llama_init_from_model(self.model, cparams)
        if not self.ctx:
            raise RuntimeError("llama.cpp could not create the context")
        self.vocab = L.llama_model_get_vocab(self.model)
        self.memory = L.llama_get_memory(self.ctx)
        self.sampler = L.llama_sampler_chain_init(L.llama_sampler_chain_default_params())
        L.llama_sampler_chain_add(self.sampler, L.llama_sampler_init_greedy())
        self._piece = ctypes.create_string_buffer(256)

    def tokenize(self, text: str) -> list:
        # add_special and parse_special both true: what the worker does for a prompt.
        data = text.encode()
        capacity = len(data) + 16
        tokens = (L.llama_token * capacity)()
        n = L.llama_tokenize(self.vocab, data, len(data), tokens, capacity, True, True)
        if n < 0:
            raise RuntimeError("tokenize: buffer too small")
        return list(tokens[:n])

    def chat_prompt(self, messages: list) -> str:
        """The prompt text for a conversation, rendered with the GGUF's own chat template."""
        template = L.llama_model_chat_template(self.model, None)
        chat = (L.llama_chat_message * len(messages))()
        keep = []  # the encoded strings must outlive the call
        for i, m in enumerate(messages):
            role, content = m["role"].encode(), m["text"].encode()
            keep += [role, content]
            chat[i].role, chat[i].content = role, content
        size = 8 * sum(len(m["text"]) for m in messages) + 1024
        buf = ctypes.create_string_buffer(size)
        n = L.llama_chat_apply_template(template, chat, len(messages), True, buf, size)
        if n < 0 or n > size:
            raise RuntimeError("llama_chat_apply_template failed")
        return buf.raw[:n].decode()

    def _decode(self, tokens: list):
        # llama_batch_get_one: sequence 0, positions continue from the KV cache, logits for the last token.
        for start in range(0, len(tokens), N_BATCH):
            chunk = tokens[start : start + N_BATCH]
            array = (L.llama_token * len(chunk))(*chunk)
            rc = L.llama_decode(self.ctx, L.llama_batch_get_one(array, len(chunk)))
            if rc != 0:
                raise RuntimeError(f"llama_decode returned {rc}")

    def generate(self, prompt: str, max_tokens: int) -> dict:
        """One request from an empty KV cache; times measured the way the benchmark client measures the worker:
        from before tokenization to the last token, prefill included."""
        L.llama_memory_clear(self.memory, True)
        L.llama_sampler_reset(self.sampler)
        start = time.perf_counter()
        tokens = self.tokenize(prompt)
        self._decode(tokens)
        prefilled = time.perf_counter()
        first = None
        out = bytearray()
        generated = 0
        stop = "length"
        while generated < max_tokens:
            token = L.llama_sampler_sample(self.sampler, self.ctx, -1)
            if L.llama_vocab_is_eog(self.vocab, token):
                stop = "stop"
                break
            n = L.llama_token_to_piece(self.vocab, token, self._piece, len(self._piece), 0, False)
            out += self._piece.raw[:n]
            generated += 1
            if first is None:
                first = time.perf_counter()
            if generated == max_tokens:
                break  # the last token needs no decode: nothing will read its logits
            self._decode([token])
        end = time.perf_counter()
        return {
            "prompt_tokens": len(tokens),
            "completion_tokens": generated,
            "reason": stop,
            "seconds": end - start,
            "ttft_ms": ((first or end) - start) * 1000,
            "prefill_ms": (prefilled - start) * 1000,
            "decode_ms": (end - prefilled) * 1000,
            "tokens_per_s": generated / (end - start),
            "text": out.decode(errors="replace"),
        }

    def long_prompt_ttft(self, cold: str, warm: list) -> dict:
        """Time to first token of a long prompt from an empty cache (cold), then of prompts sharing its prefix
        with the cache kept (warm: drop the tokens after the common prefix, decode only the rest). The ideal
        the worker's prefix reuse is measured against."""
        L.llama_memory_clear(self.memory, True)
        cached = []

        def first_token(text):
            nonlocal cached
            L.llama_sampler_reset(self.sampler)
            start = time.perf_counter()
            tokens = self.tokenize(text)
            common = 0
            while common < min(len(tokens), len(cached)) and tokens[common] == cached[common]:
                common += 1
            common = min(common, len(tokens) - 1)  # at least one token to decode, for fresh logits
            L.llama_memory_seq_rm(self.memory, 0, common, -1)
            self._decode(tokens[common:])
            L.llama_sampler_sample(self.sampler, self.ctx, -1)
            cached = tokens
            return {"prompt_tokens": len(tokens), "cached_prompt_tokens": common,
                    "ttft_ms": (time.perf_counter() - start) * 1000}

        return {"cold": first_token(cold), "warm": [first_token(t) for t in warm]}

    def close(self):
        L.llama_sampler_free(self.sampler)
        L.llama_free(self.ctx)
        L.llama_model_free(self.model)


def cpu_ns(pid="self") -> int:
    """CPU time of every thread of a process, in ns (schedstat: finer than the 10 ms ticks of /proc/PID/stat)."""
    total = 0
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{task}/schedstat") as f:
                total += int(f.read().split()[0])
        except (FileNotFoundError, ProcessLookupError):
            pass  # a thread that just ended
    return total


def rss_mb() -> dict:
    with open("/proc/self/status") as f:
        fields = (line.partition(":") for line in f)
        return {key: int(value.split()[0]) / 1024 for key, _, value in fields if key in ("VmRSS", "VmHWM")}


def serve(model_path: str):
    """The baseline as a child process of the benchmark client: one JSON command per stdin line, one JSON answer
    per stdout line. A separate process keeps its RSS and CPU apart from the client's, and staying alive lets
    the client interleave baseline and worker runs, so drift on a shared machine hits both alike. Ends at EOF.

    Commands: {"op": "generate", "prompt", "max_tokens"}; {"op": "long", "cold": messages, "warm": [messages]};
    {"op": "rss"}.
    """
    imported = rss_mb()
    direct = Direct(model_path)
    direct.generate(prompts.WARMUP, 128)  # first-call costs (page faults, graph allocation) are not measured
    print(json.dumps({"ready": True, "pid": os.getpid(), "rss_imported": imported}), flush=True)
    for line in sys.stdin:
        command = json.loads(line)
        if command["op"] == "generate":
            before = cpu_ns()
            answer = direct.generate(command["prompt"], command["max_tokens"])
            answer["cpu_ms"] = (cpu_ns() - before) / 1e6
            answer.pop("text")
        elif command["op"] == "long":
            answer = direct.long_prompt_ttft(
                direct.chat_prompt(command["cold"]), [direct.chat_prompt(m) for m in command["warm"]])
        elif command["op"] == "rss":
            answer = rss_mb()
        else:
            answer = {"error": f"unknown op {command['op']}"}
        print(json.dumps(answer), flush=True)
    direct.close()


if __name__ == "__main__":
    serve(sys.argv[1])
