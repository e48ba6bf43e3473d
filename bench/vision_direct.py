"""The image-input baseline for bench/vision.py: llama-cpp-python's `Llama` with its libmtmd chat handler
(`Llava15ChatHandler`), on the same libllama and libmtmd the runner's worker loads, in a child process.

    vision_direct.py MODEL MMPROJ LOG      (started by vision.py, in scripts/env.sh's environment)

One JSON command per stdin line, one JSON answer per line on the original stdout; everything else the process
or the libraries print goes to LOG (libmtmd prints there, and the encode time is read from it).

  {"op": "chat", "messages": [OpenAI-style messages, images as data URLs], "max_tokens": N}
      -> {"ttft_ms", "total_ms", "text", "prompt_tokens", "encodes", "encode_ms", "image_decode_ms", "image_tokens"}

Timing, per request:
  ttft_ms          from the create_chat_completion(stream=True) call to the first chunk with content
  encode_ms        what libmtmd's own helper prints for every image it encodes ("image slice encoded in N ms",
                   around mtmd_encode_chunk: the vision tower and projector, not the LLM); a list, one per image
  image_decode_ms  the same helper's "image decoded ... in N ms": the LLM's prefill of those embeddings
  prompt_tokens    tokens in the context before the first sampled token (text and image tokens)
  image_tokens     image tokens the helper decoded into the LLM ("n_tokens_batch = N", summed)

The handler's own prompt layout is LLaVA-1.5's (a default system message, "USER: ", every image before every
text, "ASSISTANT: "), not the model's. To give both sides the same prompt this handler renders ChatML instead
(SmolLM2's template), a user turn with images as the worker lays it out: one marker per image, one per line, then
a newline and the text. At start it checks that a text-only conversation renders exactly as
llama_chat_apply_template renders it with the model's own template (what the worker does).
The handler clears the KV cache on every call (no prefix reuse: a repeated image is encoded again).
"""

import ctypes
import json
import os
import re
import sys
import time



def _redirect_output(log_path):
    """Keep the real stdout for answers; send fd 1 and fd 2 (C libraries and Python alike) to the log."""
    answers = os.fdopen(os.dup(1), "w", buffering=1)
    log_fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(log_fd, 1)
    os.dup2(log_fd, 2)
    os.close(log_fd)
    sys.stdout = os.fdopen(1, "w", buffering=1)
    sys.stderr = os.fdopen(2, "w", buffering=1)
    return answers


def _use_runner_libraries():
    """llama_cpp loads libllama from LLAMA_CPP_LIB_PATH and libmtmd from MTMD_CPP_LIB when they are set: point
    both at the directory of the libllama the worker loads (RUNNER_LLAMA_LIBRARY, from scripts/env.sh)."""
    library = os.environ.get("RUNNER_LLAMA_LIBRARY")
    if not library:
        raise SystemExit("vision_direct: RUNNER_LLAMA_LIBRARY is unset; run in scripts/env.sh's environment")
    directory = os.path.dirname(os.path.realpath(library))
    os.environ["LLAMA_CPP_LIB_PATH"] = directory
    os.environ["MTMD_CPP_LIB"] = directory


def mapped_libraries(pid="self"):
    """Real paths of the llama.cpp libraries a process has mapped: {"libllama": path, "libmtmd": path, ...}."""
    found = {}
    with open(f"/proc/{pid}/maps") as f:
        for line in f:
            path = line.split(None, 5)[-1].strip() if line.count(" ") >= 5 else ""
            name = os.path.basename(path)
            m = re.match(r"(lib(?:llama|mtmd|ggml(?:-base|-cpu)?))\.so", name)
            if m:
                found[m.group(1)] = os.path.realpath(path)
    return found


# Images first, one per line, then a newline and the text: the layout the worker gives a user message with images
# (the marker for each image, joined by newlines, then "\n" + the text). The image URLs are replaced by libmtmd's
# marker by the handler. '\n' is written as an expression: trim_blocks would drop a literal newline after a tag.
CHATML = (
    "{% for message in messages %}"
    "<|im_start|>{{ message.role }}\n"
    "{% if message.content is string %}{{ message.content }}{% else %}"
    "{% set images = message.content | selectattr('type', 'equalto', 'image_url') | list %}"
    "{% set texts = message.content | selectattr('type', 'equalto', 'text') | map(attribute='text') | list %}"
    "{% for part in images %}{% if not loop.first %}{{ '\\n' }}{% endif %}"
    "{% if part.image_url is string %}{{ part.image_url }}{% else %}{{ part.image_url.url }}{% endif %}"
    "{% endfor %}"
    "{% if images and texts %}{{ '\\n' }}{% endif %}{{ texts | join('') }}"
    "{% endif %}<|im_end|>\n"
    "{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def main():
    model_path, mmproj, log_path = sys.argv[1:4]
    answers = _redirect_output(log_path)
    _use_runner_libraries()

    import jinja2.sandbox
    import llama_cpp
    from llama_cpp import Llama
    from llama_cpp.llama_chat_format import Llava15ChatHandler

    class ChatMLHandler(Llava15ChatHandler):
        DEFAULT_SYSTEM_MESSAGE = None
        CHAT_FORMAT = CHATML

        def __call__(self, **kwargs):
            result = super().__call__(**kwargs)
            # The prompt (text and images) is in the context now; the stream has not started.
            self.prompt_tokens = kwargs["llama"].n_tokens
            return result

    handler = ChatMLHandler(clip_model_path=mmproj, verbose=False)
    # flash_attn: llama.cpp's default (auto) turns it on for the CPU, for the LLM and for libmtmd's vision tower,
    # and the worker keeps the defaults; llama-cpp-python turns it off unless asked, and the handler follows.
    llm = Llama(model_path=model_path, n_ctx=4096, n_threads=2, n_threads_batch=2, n_batch=512, flash_attn=True,
                chat_handler=handler, verbose=False)

    # The same text as the worker's prompt: ChatML here equals the model's template through llama.cpp.
    probe = [{"role": "system", "content": "Session 1."}, {"role": "user", "content": "Describe the image."},
             {"role": "assistant", "content": "A square."}, {"role": "user", "content": "And the colours?"}]
    ours = jinja2.sandbox.ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True).from_string(
        CHATML).render(messages=probe, add_generation_prompt=True)
    template = llama_cpp.llama_model_chat_template(llm.model, None)
    chat = (llama_cpp.llama_chat_message * len(probe))()
    keep = []
    for i, m in enumerate(probe):
        keep += [m["role"].encode(), m["content"].encode()]
        chat[i].role, chat[i].content = keep[-2], keep[-1]
    buf = ctypes.create_string_buffer(4096)
    n = llama_cpp.llama_chat_apply_template(template, chat, len(probe), True, buf, len(buf))
    theirs = buf.raw[:n].decode() if 0 < n <= len(buf) else None
    if ours != theirs:
        raise SystemExit(f"vision_direct: the ChatML layout differs from the model's template:\n{ours!r}\n{theirs!r}")

    log = open(log_path, "rb")
    log.seek(0, os.SEEK_END)
    answers.write(json.dumps({"ready": True, "pid": os.getpid(), "libraries": mapped_libraries(),
                              "marker": llama_cpp.mtmd_cpp.mtmd_default_marker().decode()}) + "\n")

    for line in sys.stdin:
        command = json.loads(line)
        if command.get("op") != "chat":
            answers.write(json.dumps({"error": f"unknown op {command.get('op')}"}) + "\n")
            continue
        handler.prompt_tokens = None
        text, first = [], None
        start = time.perf_counter()
        for chunk in llm.create_chat_completion(messages=command["messages"], temperature=0,
                                                max_tokens=command["max_tokens"], stream=True):
            piece = chunk["choices"][0]["delta"].get("content")
            if piece:
                if first is None:
                    first = time.perf_counter()
                text.append(piece)
        end = time.perf_counter()
        sys.stderr.flush()
        printed = log.read().decode(errors="replace")
        encode = [int(x) for x in re.findall(r"image slice encoded in (\d+) ms", printed)]
        decode = [int(x) for x in re.findall(r"image decoded \(batch \d+/\d+\) in (\d+) ms", printed)]
        image_tokens = sum(int(x) for x in re.findall(r"decoding image batch \d+/\d+, n_tokens_batch = (\d+)", printed))
        answers.write(json.dumps({
            "ttft_ms": ((first or end) - start) * 1000, "total_ms": (end - start) * 1000, "text": "".join(text),
            "prompt_tokens": handler.prompt_tokens, "encodes": len(encode), "encode_ms": encode,
            "image_decode_ms": decode, "image_tokens": image_tokens}) + "\n")
    llm.close()  # before interpreter shutdown, which would otherwise free libmtmd's context too late


if __name__ == "__main__":
    main()
