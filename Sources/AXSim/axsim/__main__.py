"""Entry point: `python -m axsim <program> [args...]`, where <program> is the name the launcher was called
by (bin/axllm, bin/main_api_ax650, bin/main_api_axcl_aarch64, bin/axsim-tokenizer), so one package plays
every vendor binary. A launcher copied or linked under another `main_api_axcl_*` name is the AXCL build.
"""

import os
import sys


def main(argv):
    if not argv:
        sys.stderr.write("usage: python -m axsim {axllm|main_api_ax650|main_api_axcl_<arch>|axsim-tokenizer} "
                         "[args...]\n")
        return 1
    program, args = os.path.basename(argv[0]), argv[1:]
    # Imported per program: the tokenizer does not need the servers, and a usage error stays cheap.
    if program == "axllm":
        from . import serve
        return serve.main(args)
    if program.startswith("main_api_ax650") or program.startswith("main_api_axcl"):
        from . import legacy
        return legacy.main(program, args)
    if program in ("axsim-tokenizer", "tokenizer"):
        from . import tokenizer_service
        return tokenizer_service.main(args)
    sys.stderr.write("axsim: unknown program %r\n" % program)
    return 1


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except KeyboardInterrupt:  # Ctrl-C before the server's own signal handling is installed
        sys.exit(130)
