#!/usr/bin/env python3
"""A random-weight vision projector (mmproj GGUF) that libmtmd loads, for tests and benchmarks of image input:
no package registry we can reach ships a real vision-language model.

    tiny-vlm.py OUT_DIR [--llm PATH_TO_GGUF] [--image-size 64] [--patch-size 16] [--width 32] [--ffn 64]
                [--blocks 2] [--heads 4] [--scale 2] [--seed 0] [--images]

Writes OUT_DIR/mmproj.gguf: architecture `clip`, projector type `gemma3` (a SigLIP-style ViT, average pooling by
`--scale`, an RMS norm and one projection into the LLM's embedding width). Its projection_dim is the LLM's
n_embd: read from `--llm`, or, without `--llm`, from OUT_DIR/tiny-llm.gguf, a tiny random `llama` (F32, byte-level
`gpt2` tokenizer, ChatML template) written alongside. An image becomes ((image_size/patch_size)/scale)^2 tokens,
whatever its size (gemma3 resizes every image to image_size x image_size).

A random model cannot caption: the answers are fluent nonsense (a real LLM) or byte noise (the tiny one). What
holds, and what tests can assert: the same image at temperature 0 gives the same answer, different images give
different answers, and the image token count follows from the flags. Output is deterministic for a seed.

With --images, also writes test images, all 80x60 unless said: red.png, blue.png, stripes.png, photo.jpg,
anim.gif (2 frames; the first differs from every other image), picture.webp, truncated.png (a valid PNG cut in
half) and huge.png (a valid 20000x20000 1-bit palette PNG, ~50 KB on disk, 1.2 GB decoded to RGB). What the
libmtmd of llama-cpp-python 0.3.36 makes of them: PNG, JPEG and GIF (first frame) decode; WebP ("failed to
decode webp buffer"), truncated.png and huge.png (it refuses sides over 16384) are refused, each only after
mtmd_helper_bitmap_init_from_buf tried to run `ffprobe` on the bytes as a video.

Prints one JSON line: {"mmproj": ..., "llm": ..., "image_tokens": N, "n_embd": D, "images": {stem: path}}.
Needs numpy, gguf and Pillow (scripts/setup.sh installs them into .deps/venv with the `clients` step).
"""

import argparse
import io
import json
import os
import struct
import sys
import zlib

import numpy as np

try:
    import gguf
except ImportError:  # pragma: no cover - a message, not a traceback
    sys.exit("tiny-vlm: the `gguf` package is missing; run `scripts/setup.sh clients`")

SIGMA = 0.02  # standard deviation of the random matrices; norms are 1, biases 0

# The tiny LLM (only without --llm). Small enough that a whole answer takes well under a second.
LLM_EMBD = 64
LLM_BLOCKS = 2
LLM_HEADS = 4
LLM_KV_HEADS = 2
LLM_FFN = 128
LLM_CONTEXT = 2048
# Much larger than the projector's: with small weights the last text tokens decide the answer and different
# images often give the same one; at 0.5 the image changes it (checked over seeds with llama-cpp-python).
LLM_SIGMA = 0.5
LLM_MERGES = [("Ġ", "t"), ("h", "e"), ("Ġt", "he"), ("i", "n"), ("Ġ", "a"), ("e", "r"), ("o", "n"), ("Ġ", "s")]
CONTROL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
CHATML = ("{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + "
          "'<|im_end|>' + '\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}")


def fail(message):
    sys.exit(f"tiny-vlm: {message}")


class Weights:
    """Deterministic random tensors: one generator, drawn from in a fixed order."""

    def __init__(self, seed, sigma=SIGMA):
        self.rng = np.random.default_rng(seed)
        self.sigma = sigma

    def normal(self, *shape):
        return (self.rng.standard_normal(shape, dtype=np.float32) * self.sigma).astype(np.float32)

    @staticmethod
    def ones(*shape):
        return np.ones(shape, dtype=np.float32)

    @staticmethod
    def zeros(*shape):
        return np.zeros(shape, dtype=np.float32)


def write_gguf(writer, path):
    writer.write_header_to_file(path=path)
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


# ---------------------------------------------------------------------------------------------------------
# The projector


def write_mmproj(path, args, n_embd):
    """gguf stores a numpy array of shape (a, b, ...) as a ggml tensor with ne = [..., b, a]."""
    side = args.image_size // args.patch_size
    n_patches = side * side
    w, f, p = args.width, args.ffn, args.patch_size
    rnd = Weights(args.seed)
    writer = gguf.GGUFWriter(None, "clip")
    writer.add_string("general.name", "tiny-vlm random gemma3 projector")
    writer.add_string("clip.projector_type", "gemma3")
    writer.add_bool("clip.has_vision_encoder", True)
    writer.add_bool("clip.use_gelu", True)
    writer.add_uint32("clip.vision.image_size", args.image_size)
    writer.add_uint32("clip.vision.patch_size", p)
    writer.add_uint32("clip.vision.embedding_length", w)
    writer.add_uint32("clip.vision.feed_forward_length", f)
    writer.add_uint32("clip.vision.block_count", args.blocks)
    writer.add_uint32("clip.vision.attention.head_count", args.heads)
    writer.add_float32("clip.vision.attention.layer_norm_epsilon", 1e-6)
    writer.add_uint32("clip.vision.projection_dim", n_embd)
    writer.add_array("clip.vision.image_mean", [0.5, 0.5, 0.5])
    writer.add_array("clip.vision.image_std", [0.5, 0.5, 0.5])
    writer.add_uint32("clip.vision.projector.scale_factor", args.scale)

    writer.add_tensor("v.patch_embd.weight", rnd.normal(w, 3, p, p))
    writer.add_tensor("v.patch_embd.bias", rnd.zeros(w))
    writer.add_tensor("v.position_embd.weight", rnd.normal(n_patches, w))
    for i in range(args.blocks):
        b = f"v.blk.{i}"
        for norm in ("ln1", "ln2"):
            writer.add_tensor(f"{b}.{norm}.weight", rnd.ones(w))
            writer.add_tensor(f"{b}.{norm}.bias", rnd.zeros(w))
        for proj in ("attn_q", "attn_k", "attn_v", "attn_out"):
            writer.add_tensor(f"{b}.{proj}.weight", rnd.normal(w, w))
            writer.add_tensor(f"{b}.{proj}.bias", rnd.zeros(w))
        writer.add_tensor(f"{b}.ffn_up.weight", rnd.normal(f, w))
        writer.add_tensor(f"{b}.ffn_up.bias", rnd.zeros(f))
        writer.add_tensor(f"{b}.ffn_down.weight", rnd.normal(w, f))
        writer.add_tensor(f"{b}.ffn_down.bias", rnd.zeros(w))
    writer.add_tensor("v.post_ln.weight", rnd.ones(w))
    writer.add_tensor("v.post_ln.bias", rnd.zeros(w))
    writer.add_tensor("mm.soft_emb_norm.weight", rnd.ones(w))
    writer.add_tensor("mm.input_projection.weight", rnd.normal(w, n_embd))  # ne = [n_embd, w]
    write_gguf(writer, path)
    return (side // args.scale) ** 2


# ---------------------------------------------------------------------------------------------------------
# The tiny LLM


def byte_symbols():
    """GPT-2's byte-level alphabet: every byte as a printable unicode character (bytes_to_unicode)."""
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + \
        list(range(ord("®"), ord("ÿ") + 1))
    codes, extra = {}, 0
    for b in range(256):
        if b in printable:
            codes[b] = chr(b)
        else:
            codes[b] = chr(256 + extra)
            extra += 1
    return [codes[b] for b in range(256)]


def write_tiny_llm(path, seed):
    tokens = byte_symbols()
    for a, b in LLM_MERGES:
        if a + b not in tokens:
            tokens.append(a + b)
    types = [gguf.TokenType.NORMAL] * len(tokens)
    eos = len(tokens)
    tokens += CONTROL_TOKENS
    types += [gguf.TokenType.CONTROL] * len(CONTROL_TOKENS)
    n_vocab, d, head_dim = len(tokens), LLM_EMBD, LLM_EMBD // LLM_HEADS
    kv = LLM_KV_HEADS * head_dim

    rnd = Weights(seed + 1, LLM_SIGMA)  # not the projector's stream
    writer = gguf.GGUFWriter(None, "llama")
    writer.add_string("general.name", "tiny-vlm random llama")
    writer.add_context_length(LLM_CONTEXT)
    writer.add_embedding_length(d)
    writer.add_block_count(LLM_BLOCKS)
    writer.add_feed_forward_length(LLM_FFN)
    writer.add_head_count(LLM_HEADS)
    writer.add_head_count_kv(LLM_KV_HEADS)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_rope_dimension_count(head_dim)
    writer.add_vocab_size(n_vocab)
    writer.add_file_type(gguf.LlamaFileType.ALL_F32)
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre("gpt-2")
    writer.add_token_list(tokens)
    writer.add_token_types(types)
    writer.add_token_merges([f"{a} {b}" for a, b in LLM_MERGES])
    writer.add_bos_token_id(eos)
    writer.add_eos_token_id(eos)
    writer.add_add_bos_token(False)
    writer.add_chat_template(CHATML)

    writer.add_tensor("token_embd.weight", rnd.normal(n_vocab, d))
    for i in range(LLM_BLOCKS):
        b = f"blk.{i}"
        writer.add_tensor(f"{b}.attn_norm.weight", rnd.ones(d))
        writer.add_tensor(f"{b}.attn_q.weight", rnd.normal(d, d))
        writer.add_tensor(f"{b}.attn_k.weight", rnd.normal(kv, d))
        writer.add_tensor(f"{b}.attn_v.weight", rnd.normal(kv, d))
        writer.add_tensor(f"{b}.attn_output.weight", rnd.normal(d, d))
        writer.add_tensor(f"{b}.ffn_norm.weight", rnd.ones(d))
        writer.add_tensor(f"{b}.ffn_gate.weight", rnd.normal(LLM_FFN, d))
        writer.add_tensor(f"{b}.ffn_up.weight", rnd.normal(LLM_FFN, d))
        writer.add_tensor(f"{b}.ffn_down.weight", rnd.normal(d, LLM_FFN))
    writer.add_tensor("output_norm.weight", rnd.ones(d))
    writer.add_tensor("output.weight", rnd.normal(n_vocab, d))
    write_gguf(writer, path)
    return d


# GGUF metadata value types: fixed sizes (struct formats); 8 is a string, 9 an array.
_GGUF_SCALARS = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q", 12: "d"}


def llm_embedding_length(path):
    """`<arch>.embedding_length` of a GGUF. A walk over the metadata that stops at that key: gguf's GGUFReader
    parses every field first, which takes seconds for a 49k-token vocabulary (SmolLM2: 2.4 s on 2 cores)."""
    with open(path, "rb") as f:
        def read(fmt):
            size = struct.calcsize("<" + fmt)
            data = f.read(size)
            if len(data) != size:
                raise ValueError("the file ends inside its metadata")
            return struct.unpack("<" + fmt, data)[0]

        def string():
            return f.read(read("Q")).decode("utf-8", errors="replace")

        def value(kind):
            if kind in _GGUF_SCALARS:
                return read(_GGUF_SCALARS[kind])
            if kind == 8:
                return string()
            if kind == 9:
                item, count = read("I"), read("Q")
                if item in _GGUF_SCALARS:
                    f.seek(count * struct.calcsize("<" + _GGUF_SCALARS[item]), os.SEEK_CUR)
                else:
                    for _ in range(count):
                        value(item)
                return None
            raise ValueError(f"unknown metadata type {kind}")

        try:
            if f.read(4) != b"GGUF":
                raise ValueError("no GGUF magic")
            version, _, kv_count = read("I"), read("Q"), read("Q")
            if version < 2:
                raise ValueError(f"GGUF version {version} is too old")
            arch = None
            for _ in range(kv_count):
                key = string()
                found = value(read("I"))
                if key == "general.architecture":
                    arch = found
                elif arch is not None and key == f"{arch}.embedding_length":
                    return int(found)
        except (OSError, ValueError, struct.error) as e:
            fail(f"cannot read {path} as GGUF: {e}")
    fail(f"{path} has no {arch or '<general.architecture>'}.embedding_length")


# ---------------------------------------------------------------------------------------------------------
# Test images


def png_chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def huge_png(side=20000):
    """A valid side x side PNG, one solid colour: 1-bit palette, so the raw rows are side*(1+side/8) bytes
    (50 MB for 20000), which deflate squeezes to ~50 KB. Decoded to RGB it is side*side*3 bytes (1.2 GB)."""
    row = b"\0" * (1 + (side + 7) // 8)  # filter byte 0, then all pixels palette index 0
    compressor = zlib.compressobj(9)
    parts = [compressor.compress(row * 1000) for _ in range(side // 1000)]
    parts.append(compressor.compress(row * (side % 1000)))
    parts.append(compressor.flush())
    return (b"\x89PNG\r\n\x1a\n"
            + png_chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 1, 3, 0, 0, 0))
            + png_chunk(b"PLTE", bytes([200, 30, 30]))
            + png_chunk(b"IDAT", b"".join(parts))
            + png_chunk(b"IEND", b""))


def write_images(out_dir, seed):
    try:
        from PIL import Image
    except ImportError:
        fail("--images needs Pillow; run `scripts/setup.sh clients`")
    w, h = 80, 60
    rng = np.random.default_rng(seed + 2)
    ys, xs = np.mgrid[0:h, 0:w]
    stripes = np.zeros((h, w, 3), dtype=np.uint8)
    stripes[(xs // 10) % 2 == 0] = (255, 255, 255)
    stripes[(xs // 10) % 2 == 1] = (0, 160, 0)
    gradient = np.stack([xs * 255 // (w - 1), ys * 255 // (h - 1), np.full((h, w), 96)], axis=-1).astype(np.uint8)
    checks = np.zeros((h, w, 3), dtype=np.uint8)
    checks[((xs // 8) + (ys // 8)) % 2 == 0] = (250, 200, 0)
    noise = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)

    images = {}

    def save(name, image, **kwargs):
        path = os.path.join(out_dir, name)
        image.save(path, **kwargs)
        images[os.path.splitext(name)[0]] = path

    save("red.png", Image.new("RGB", (w, h), (220, 20, 20)))
    save("blue.png", Image.new("RGB", (w, h), (20, 40, 220)))
    save("stripes.png", Image.fromarray(stripes))
    save("photo.jpg", Image.fromarray(gradient), format="JPEG", quality=90)
    frames = [Image.fromarray(checks), Image.fromarray(stripes)]
    save("anim.gif", frames[0], format="GIF", save_all=True, append_images=frames[1:], duration=200, loop=0)
    save("picture.webp", Image.fromarray(gradient[::-1]), format="WEBP", quality=80)

    # Noise, so the image data is most of the file and half of it ends inside IDAT.
    buffer = io.BytesIO()
    Image.fromarray(noise).save(buffer, format="PNG")
    whole = buffer.getvalue()
    for name, data in (("truncated.png", whole[:len(whole) // 2]), ("huge.png", huge_png())):
        path = os.path.join(out_dir, name)
        with open(path, "wb") as f:
            f.write(data)
        images[os.path.splitext(name)[0]] = path
    return images


# ---------------------------------------------------------------------------------------------------------


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out_dir")
    parser.add_argument("--llm", help="the language model GGUF to pair with (default: write tiny-llm.gguf)")
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--patch-size", type=int, default=16)
    parser.add_argument("--width", type=int, default=32, help="ViT embedding width")
    parser.add_argument("--ffn", type=int, default=64, help="ViT feed-forward width")
    parser.add_argument("--blocks", type=int, default=2, help="ViT blocks")
    parser.add_argument("--heads", type=int, default=4, help="ViT attention heads")
    parser.add_argument("--scale", type=int, default=2, help="pooling merge factor per side")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--images", action="store_true", help="also write the test images")
    args = parser.parse_args()

    if min(args.image_size, args.patch_size, args.width, args.ffn, args.blocks, args.heads, args.scale) < 1:
        fail("sizes and counts must be positive")
    if args.image_size % args.patch_size:
        fail(f"--image-size {args.image_size} is not a multiple of --patch-size {args.patch_size}")
    if (args.image_size // args.patch_size) % args.scale:
        fail(f"{args.image_size // args.patch_size} patches per side do not divide by --scale {args.scale}")
    if args.width % args.heads:
        fail(f"--width {args.width} is not a multiple of --heads {args.heads}")

    os.makedirs(args.out_dir, exist_ok=True)
    if args.llm:
        llm = os.path.abspath(args.llm)
        n_embd = llm_embedding_length(llm)
    else:
        llm = os.path.abspath(os.path.join(args.out_dir, "tiny-llm.gguf"))
        n_embd = write_tiny_llm(llm, args.seed)
    mmproj = os.path.abspath(os.path.join(args.out_dir, "mmproj.gguf"))
    image_tokens = write_mmproj(mmproj, args, n_embd)
    images = write_images(os.path.abspath(args.out_dir), args.seed) if args.images else {}
    print(json.dumps({"mmproj": mmproj, "llm": llm, "image_tokens": image_tokens, "n_embd": n_embd,
                      "images": images}))


if __name__ == "__main__":
    main()
