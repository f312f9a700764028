"""Benchmark: C2PA signing of a 12-megapixel JPEG against the c2pa-python SDK signing the same file alone.

Sides (interleaved pairs; CPU time = user + system of the process and its children):
* in-process: ``aigclabel.mark_file(src, dest, explicit=False, c2pa=C2paOptions(...))`` (metadata step, then the
  signing step with its read-back check) against c2pa-python alone: ``Builder(manifest).sign(signer, "image/jpeg",
  src, dest)`` with the same credentials and the same three assertions (actions, AI disclosure, the record);
* whole process (reported): ``aigclabel mark --no-explicit --c2pa`` against ``python3 -c`` running that SDK call.

The credentials are a development chain from ``aigclabel.keys.init_keys`` (EC P-256, es256); no time-stamp
authority (no network).

Targets (issue 15 "Speed and memory targets"):
  C2PA sign of a 12 MP JPEG, in-process      <= 1.15x c2pa-python alone

Run: python3 bench/bench_c2pa.py [--quick] [--pairs N] [--target-scale F]   (needs the [c2pa] extra)
"""

from __future__ import annotations

import io
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _timing import (PRODUCER, Bench, aigclabel_argv, main, make_photo_jpeg, pairs, parser, process,  # noqa: E402
                     record_json, to_fresh_output)

#: what the SDK-alone side runs, in-process and (as a script) as a whole process
SDK_SIGN = '''
import json, sys
import c2pa

src, dest, chain, key, record = sys.argv[1:6]
manifest = {"claim_generator_info": [{"name": "bench", "version": "1"}], "format": "image/jpeg",
            "assertions": [
                {"label": "c2pa.actions.v2", "data": {"actions": [{"action": "c2pa.created",
                 "digitalSourceType": "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"}]}},
                {"label": "c2pa.ai-disclosure", "data": {"modelType": "c2pa.types.model"}},
                {"label": "cn.tc260.aigc", "data": {"record": record}}]}
settings = {"version": 1, "verify": {"remote_manifest_fetch": False, "ocsp_fetch": False},
            "builder": {"thumbnail": {"enabled": False}}}
info = c2pa.C2paSignerInfo("es256", open(chain, "rb").read(), open(key, "rb").read(), None)
with c2pa.Context.from_dict(settings) as ctx, c2pa.Signer.from_info(info) as signer, \\
        c2pa.Builder(manifest, context=ctx) as builder, open(src, "rb") as s, open(dest, "wb") as d:
    builder.sign(signer, "image/jpeg", s, d)
'''


def body(bench: Bench) -> None:
    import aigclabel
    from aigclabel import c2pa as prov
    from aigclabel.keys import init_keys

    if not prov.available():
        raise RuntimeError("c2pa-python is not installed: pip install 'aigclabel[c2pa]'")
    with tempfile.TemporaryDirectory(prefix="aigclabel-bench-") as tmp:
        d = Path(tmp)
        keys = init_keys(d / "keys")
        src = d / "src.jpg"
        make_photo_jpeg(src)
        print(f"source: 4000x3000 JPEG, {src.stat().st_size / 1e6:.2f} MB; SDK {prov.sdk_version()}")
        options = prov.C2paOptions(sign_cert=keys.chain, sign_key=keys.key)
        code = compile(SDK_SIGN, "<sdk-alone>", "exec")

        def sdk_alone(dest: Path) -> None:
            saved = sys.argv
            sys.argv = ["sdk", str(src), str(dest), str(keys.chain), str(keys.key), record_json()]
            try:
                exec(code, {"__name__": "sdk_alone"})  # noqa: S102 - our own constant script, run in-process
            finally:
                sys.argv = saved

        def ours(dest: Path) -> None:
            aigclabel.mark_file(src, dest, producer=PRODUCER, explicit=False, c2pa=options)

        base, mine = pairs(to_fresh_output(sdk_alone, d, ".jpg"), to_fresh_output(ours, d, ".jpg"), bench.n)
        bench.ratio("12 MP JPEG C2PA sign, in-process", base, mine, 1.15, baseline="c2pa-python alone")

        script = d / "sdk_sign.py"
        script.write_text(SDK_SIGN)
        base, mine = pairs(
            process(lambda dest: [sys.executable, str(script), str(src), str(dest), str(keys.chain), str(keys.key),
                                  record_json()], d, ".jpg"),
            process(lambda dest: [*aigclabel_argv(), "mark", str(src), "-o", str(dest), "--producer", PRODUCER,
                                  "--no-explicit", "--c2pa", "--sign-cert", str(keys.chain), "--sign-key",
                                  str(keys.key)], d, ".jpg"), bench.n)
        bench.ratio("12 MP JPEG mark --no-explicit --c2pa, whole process", base, mine, None,
                    baseline="python3 + c2pa-python alone")

        out = d / "signed.jpg"
        sdk_alone(out)
        import c2pa as sdk

        with sdk.Reader("image/jpeg", io.BytesIO(out.read_bytes())) as reader:
            ok = "cn.tc260.aigc" in reader.json()
        bench.check("the SDK-alone baseline really signed (its manifest reads back)", ok, "read by c2pa.Reader")


if __name__ == "__main__":
    sys.exit(main("c2pa", parser(__doc__), body))
