"""`axsim-tokenizer`: the HTTP tokenizer the legacy server talks to (`--tokenizer_type 2`).

It stands in for the vendor's Python tokenizer scripts (ax-llm scripts/*_tokenizer.py, started as e.g.
`python qwen3_tokenizer.py --port 12345`), with their protocol: GET /bos_id, GET /eos_id, POST /encode,
POST /decode. The vendor scripts apply their model's chat template inside /encode; here /encode is plain
tokenization (special tokens parsed, no BOS added) because the simulated server renders the GGUF's own
template itself.
"""

import argparse
import os
import sys

from . import http_util
from .config import ConfigError, load_sim_settings
from .http_util import BadBody, log
from .model import Model


class TokenizerHandler(http_util.Handler):
    log_tag = "tokenizer"

    def do_GET(self):
        self.log_request_line()
        model = self.server.app
        if self.route == "/bos_id":
            # The scripts answer the tokenizer's bos_token_id, or -1 when it has none.
            self.send_json(200, {"bos_id": model.bos_id if model.bos_id >= 0 else -1})
        elif self.route == "/eos_id":
            self.send_json(200, {"eos_id": model.eos_id})
        else:
            self.send_unknown()

    def do_POST(self):
        self.log_request_line()
        model = self.server.app
        if self.route not in ("/encode", "/decode"):
            self.discard_body()
            self.send_unknown()
            return
        try:
            body = self.read_json()
            if self.route == "/encode":
                text = body.get("text")
                if not isinstance(text, str):
                    raise BadBody("\"text\" must be a string")
                self.send_json(200, {"token_ids": model.tokenize(text)})
            else:
                ids = body.get("token_ids")
                if not isinstance(ids, list) or not all(isinstance(i, int) and not isinstance(i, bool) for i in ids):
                    raise BadBody("\"token_ids\" must be a list of integers")
                self.send_json(200, {"text": model.detokenize(ids)})
        except BadBody as error:
            self.send_json(400, {"error": str(error)})

    def send_unknown(self):
        # QUIRK of the vendor scripts: an unknown path is answered 200 with the bare text "error".
        self.send_bytes(200, b"error", content_type="text/plain")


def resolve_model(model_id):
    """A GGUF file, or a model directory whose config.json names one in `axsim.gguf`."""
    if os.path.isdir(model_id):
        return load_sim_settings(model_id).gguf
    if os.path.isfile(model_id):
        return model_id
    raise ConfigError("tokenizer model not found: %s" % model_id)


def main(argv):
    parser = argparse.ArgumentParser(prog="axsim-tokenizer", description=(
        "AXSim HTTP tokenizer service (simulates ax-llm's Python tokenizer scripts)."))
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=12345)
    parser.add_argument("--model_id", default=".",
                        help="a GGUF, or a model directory whose config.json has axsim.gguf (default: cwd)")
    args = parser.parse_args(argv)
    try:
        gguf = resolve_model(args.model_id)
    except ConfigError as error:
        http_util.die(str(error))
    server = http_util.Server(args.host, args.port, TokenizerHandler, None)
    try:
        server.bind()
    except OSError as error:
        http_util.die(str(error))
    server.app = Model(gguf, vocab_only=True, threads=1)
    server.listen()
    log("I", "tokenizer", "AXSim tokenizer service (%s) on http://%s:%d" % (gguf, args.host, args.port))
    http_util.say("http://%s:%d" % (args.host, args.port))
    http_util.serve_until_signal(server)


if __name__ == "__main__":
    main(sys.argv[1:])
