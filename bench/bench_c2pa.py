"""Benchmark: C2PA signing of a 12-megapixel JPEG against the c2pa-python SDK signing the same file alone.

Sides (interleaved pairs; CPU time = user + system of the process and its children):
* in-process: ``aigclabel.mark_file(src, dest, explicit=False, c2pa=C2paOptions(...))`` (metadata step, then the
  signing step with its read-back check) against c2pa-python alone: ``Builder(manifest).sign(signer, "image/jpeg",
  src, dest)`` with the same credentials and the same three assertions (actions, AI disclosure, the record);
* in-process (reported): the same against the SDK signing and then validating its output with its ``Reader``
  (what a signature that is checked before it is trusted costs at least: ours reads the signed file back the
  same way before it replaces anything);
* whole process (reported): ``aigclabel mark --no-explicit --c2pa`` against ``python3 -c`` running that SDK call.

Both sides sign the same manifest: ``c2pa.actions.v2`` (``c2pa.created``, the AI ``digitalSourceType``, ``when``),
``c2pa.ai-disclosure`` and ``org.aigclabel.aigc`` (the record and its schema), thumbnails off, nothing fetched.

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
from typing import Callable

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _timing import (PRODUCER, Bench, aigclabel_argv, main, make_photo_jpeg, pairs, parser, process,  # noqa: E402
                     record_json, to_fresh_output)

#: what the SDK-alone side runs, in-process and (as a script) as a whole process
SDK_SIGN = '''
import datetime, sys
import c2pa

src, dest, chain, key, record = sys.argv[1:6]
when = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
manifest = {"claim_generator_info": [{"name": "bench", "version": "1"}], "format": "image/jpeg",
            "assertions": [
                {"label": "c2pa.actions.v2", "data": {"actions": [{"action": "c2pa.created", "when": when,
                 "digitalSourceType": "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"}]}},
                {"label": "c2pa.ai-disclosure", "data": {"modelType": "c2pa.types.model"}},
                {"label": "org.aigclabel.aigc", "data": {"record": record, "schema": "gb45438-2025"}}]}
settings = {"version": 1, "verify": {"remote_manifest_fetch": False, "ocsp_fetch": False},
            "builder": {"thumbnail": {"enabled": False}}}
# verify_after_sign: the SDK's default
info = c2pa.C2paSignerInfo("es256", open(chain, "rb").read(), open(key, "rb").read(), None)
with c2pa.Context.from_dict(settings) as ctx, c2pa.Signer.from_info(info) as signer, \\
        c2pa.Builder(manifest, context=ctx) as builder, open(src, "rb") as s, open(dest, "wb") as d:
    builder.sign(signer, "image/jpeg", s, d)
'''
#: ... and then validating what it wrote, as a careful user does before publishing it (the Builder's own partial
#: check after signing is then redundant, so this user turns it off, as aigclabel does)
SDK_SIGN_AND_CHECK = SDK_SIGN.replace("# verify_after_sign: the SDK's default",
                                                    'settings["verify"]["verify_after_sign"] = False') + '''
with c2pa.Context.from_dict(settings) as ctx, open(dest, "rb") as d, c2pa.Reader("image/jpeg", d, None, ctx) as r:
    if r.get_validation_state() not in ("Valid", "Trusted"):
        raise SystemExit(f"the SDK's own output does not validate: {r.get_validation_results()}")
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
        def sdk_script(text: str) -> Callable[[Path], None]:
            code = compile(text, "<sdk-alone>", "exec")

            def run(dest: Path) -> None:
                saved = sys.argv
                sys.argv = ["sdk", str(src), str(dest), str(keys.chain), str(keys.key), record_json()]
                try:
                    exec(code, {"__name__": "sdk_alone"})  # noqa: S102 - our own constant script, run in-process
                finally:
                    sys.argv = saved
            return run

        sdk_alone, sdk_checked = sdk_script(SDK_SIGN), sdk_script(SDK_SIGN_AND_CHECK)

        def ours(dest: Path) -> None:
            aigclabel.mark_file(src, dest, producer=PRODUCER, produce_id="bench-0001", explicit=False,
                                c2pa=options)  # the record the baseline signs

        base, mine = pairs(to_fresh_output(sdk_alone, d, ".jpg"), to_fresh_output(ours, d, ".jpg"), bench.n)
        bench.ratio("12 MP JPEG C2PA sign, in-process", base, mine, 1.15, baseline="c2pa-python alone")
        base, mine = pairs(to_fresh_output(sdk_checked, d, ".jpg"), to_fresh_output(ours, d, ".jpg"), bench.n)
        bench.ratio("12 MP JPEG C2PA sign, in-process, against a validated SDK sign", base, mine, None,
                    baseline="c2pa-python sign + Reader validation")

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

        import c2pa as sdk

        for side, run in (("the SDK-alone baseline", sdk_alone), ("aigclabel", ours)):
            out = d / "signed.jpg"
            run(out)
            with sdk.Reader("image/jpeg", io.BytesIO(out.read_bytes())) as reader:
                records = [a["data"].get("record") for a in reader.get_active_manifest()["assertions"]
                           if a["label"] == "org.aigclabel.aigc"]
                ok = records == [record_json()] and reader.get_validation_state() in ("Valid", "Trusted")
            out.unlink()
            bench.check(f"{side} really signed (its manifest validates and carries the record)", ok,
                        "read by c2pa.Reader")


if __name__ == "__main__":
    sys.exit(main("c2pa", parser(__doc__), body))
