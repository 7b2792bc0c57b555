#!/usr/bin/env python3
"""Check a recording with ffprobe/ffmpeg: streams, duration, colour, tone.

    check_media.py FILE [--min-duration S] [--colour R,G,B] [--tone HZ]
        [--at S] [--tolerance N] [--no-audio] [--no-video]

--colour compares the frame at --at seconds (default: middle), its central quarter
averaged to one pixel, with R,G,B (each within --tolerance, default 40). --tone estimates the
dominant frequency of 1 s of decoded audio from --at (zero crossings, ±3 %).
Prints one JSON line; exit 0 when every check passed, 1 otherwise.
"""

import argparse
import json
import subprocess
import sys

import numpy as np

TIMEOUT = 60


def probe(path):
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries",
         "format=duration:stream=codec_type,codec_name,width,height,sample_rate,channels,duration",
         "-of", "json", path],
        capture_output=True, text=True, timeout=TIMEOUT)
    if out.returncode:
        raise RuntimeError(out.stderr.strip() or "ffprobe failed")
    return json.loads(out.stdout)


def decode(path, args):
    out = subprocess.run(["ffmpeg", "-v", "error", "-nostdin", *args], capture_output=True,
                         timeout=TIMEOUT)
    if out.returncode:
        raise RuntimeError(out.stderr.decode(errors="replace").strip() or "ffmpeg failed")
    return out.stdout


def main():
    p = argparse.ArgumentParser()
    p.add_argument("file")
    p.add_argument("--min-duration", type=float, default=0.0)
    p.add_argument("--colour", "--color")
    p.add_argument("--tone", type=float)
    p.add_argument("--at", type=float)
    p.add_argument("--tolerance", type=int, default=40)
    p.add_argument("--no-audio", action="store_true", help="expect no audio stream")
    p.add_argument("--no-video", action="store_true", help="expect no video stream")
    a = p.parse_args()

    res = {"file": a.file, "checks": {}, "ok": True}

    def check(name, ok, detail):
        res["checks"][name] = {"ok": bool(ok), "detail": detail}
        res["ok"] = res["ok"] and bool(ok)

    try:
        info = probe(a.file)
    except Exception as e:
        check("probe", False, str(e))
        print(json.dumps(res))
        return 1
    streams = info.get("streams", [])
    kinds = [s.get("codec_type") for s in streams]
    res["streams"] = streams
    duration = float(info.get("format", {}).get("duration") or 0)
    res["duration"] = duration
    check("audio", ("audio" in kinds) != a.no_audio, kinds)
    check("video", ("video" in kinds) != a.no_video, kinds)
    if a.min_duration:
        check("duration", duration >= a.min_duration, duration)
    at = a.at if a.at is not None else max(0.0, duration / 2 - 0.5)

    if a.colour and "video" in kinds:
        want = [int(x) for x in a.colour.split(",")]
        try:
            px = decode(a.file, ["-ss", str(at), "-i", a.file, "-frames:v", "1",
                                 "-vf", "crop=iw/2:ih/2,scale=1:1:flags=area", "-f", "rawvideo",
                                 "-pix_fmt", "rgb24", "-"])
            got = list(px[:3])
            check("colour", len(got) == 3 and all(abs(g - w) <= a.tolerance
                                                 for g, w in zip(got, want)),
                  {"want": want, "got": got})
        except Exception as e:
            check("colour", False, str(e))

    if a.tone and "audio" in kinds:
        try:
            raw = decode(a.file, ["-ss", str(at), "-t", "1", "-i", a.file, "-vn", "-ac", "1",
                                  "-ar", "48000", "-f", "s16le", "-"])
            x = np.frombuffer(raw, dtype=np.int16).astype(np.float64)
            x -= x.mean() if len(x) else 0
            rms = float(np.sqrt(np.mean(x * x))) if len(x) else 0.0
            crossings = np.count_nonzero(np.diff(np.signbit(x))) if len(x) > 1 else 0
            hz = crossings / 2 / (len(x) / 48000) if len(x) else 0.0
            check("tone", rms > 300 and abs(hz - a.tone) <= 0.03 * a.tone,
                  {"want_hz": a.tone, "hz": round(hz, 1), "rms": round(rms, 1)})
        except Exception as e:
            check("tone", False, str(e))

    print(json.dumps(res))
    return 0 if res["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
