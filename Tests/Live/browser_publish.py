#!/usr/bin/env python3
"""Publish to a WHIP endpoint from a real headless browser through Samples/whip-publisher.html.

    browser_publish.py --browser chromium|firefox --url WHIP_URL --seconds S
        [--page-host IP] [--page-port N] [--y4m FILE | --noise N] [--width W] [--height H] [--fps N]
        [--simulcast] [--codec vp8|vp9|h264] [--maxbitrate KBPS] [--pause f@20,f@30]
        [--token T] [--mdns] [--summary-from S] [--connect-timeout S] [--log FILE]

Serves the page (found as ../../Samples/whip-publisher.html from this script) with
python's http.server on --page-host (default 127.0.0.1; any port), opens
http://HOST:PORT/whip-publisher.html?url=…&autostart=1&seconds=S… in a headless
browser with a fake camera and microphone, and collects the page's console lines
(`flowrec-stats`, `flowrec-event`, `flowrec-done`). The browser is ended when the
page prints flowrec-done (it DELETEs the resource S s after "connected"), or at
--connect-timeout (never connected) or S + connect timeout + 15 s. Prints one JSON
document on stdout:

    {"browser", "version", "page", "connected", "done": {reason, deleteStatus, …},
     "events": [...], "samples": [every flowrec-stats object],
     "summary": {"from", "samples", "availableOutgoingBitrate": {min,max,median,mean,last},
                 "video": {RID: {frameWidths, frameHeights, frameWidthsFrom, kbps, fps, targetBitrate,
                                 qualityLimitation, nackCount, pliCount, firCount, ...}},
                 "audio": {bytesSent, kbps}}}

Summary statistics are over the samples with t >= --summary-from (default 20 s);
"frameWidths" are all widths seen, "frameWidthsFrom" those in that window.
Exit codes: 0 connected and ran to the end, 3 never connected, 4 connected but ended
early (connection failed/closed, the page stopped for another reason, or no
flowrec-done before the deadline), 1 the browser could not be run.

Browsers (Debian chromium 156, firefox-esr 153) run as root inside the test's network
namespace with a fresh profile in a temp dir (removed at exit), HOME pointed there:

  * chromium: --headless=new --no-sandbox --use-fake-ui-for-media-stream
    --use-fake-device-for-media-stream --use-file-for-fake-video-capture=Y4M plus flags that
    stop background traffic. Without --y4m a busy 10 s WIDTHxHEIGHT@FPS picture (default
    640x360@30: testsrc2 under per-frame noise of strength --noise) is made with ffmpeg
    (0.4 s, 100 MB in the temp dir). With noise 16 Chromium's VP8 fills its whole default cap
    for 640x360 (1.7 Mbit/s, raise it with --maxbitrate) at full size; with 32 or 64 its
    quality scaler (high QP) keeps it at 480 or 320 wide even when bandwidth allows.
    Console lines come on stderr as `…:INFO:CONSOLE…] "flowrec-stats {…}", source: …`.
  * firefox: firefox-esr --headless --no-remote --profile DIR URL with user.js prefs for fake
    media (media.navigator.streams.fake; the picture is Firefox's own, --y4m is ignored),
    no permission prompt, console.log on stdout (devtools.console.stdout.content) and no
    updates/telemetry/captive portal/prefetch/safe browsing. Firefox gathers no ICE candidates
    at all without a default route: run `ip route add default dev v1` in the publisher's
    namespace first. Host candidates are plain IPs (obfuscate_host_addresses=false) unless
    --mdns, which keeps Firefox's default `<uuid>.local` names (flowrec ignores those; the
    connection then comes up on the peer-reflexive candidate its checks create).
    Chromium gives plain IPs anyway: a page with camera permission gets no mDNS names.

The page is http:// and not on localhost unless --page-host is 127.0.0.1, so it is declared
secure (chromium --unsafely-treat-insecure-origin-as-secure, firefox
media.devices.insecure.enabled) or getUserMedia would not exist. No STUN server is given
to the page, so the browser only talks to the WHIP URL's host and the ICE candidates in
the answer.
"""

import argparse
import http.server
import json
import os
import queue
import re
import shutil
import signal
import socketserver
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
PAGE = os.path.normpath(os.path.join(HERE, "..", "..", "Samples", "whip-publisher.html"))
LINE = re.compile(r"(flowrec-(?:stats|event|done)) (?=\{)")
FFMPEG_TIMEOUT = 120
END_MARGIN = 15.0


class PageHandler(http.server.BaseHTTPRequestHandler):
    """Serves the one page (and 404 for anything else, e.g. /favicon.ico)."""

    def do_GET(self):  # noqa: N802 (http.server naming)
        path = urllib.parse.urlsplit(self.path).path
        if path not in ("/", "/whip-publisher.html"):
            self.send_error(404)
            return
        with open(PAGE, "rb") as f:
            body = f.read()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, fmt, *args):  # quiet
        pass


class PageServer(http.server.ThreadingHTTPServer):
    def server_bind(self):
        # HTTPServer.server_bind calls socket.getfqdn(): a reverse DNS lookup that, with the
        # namespace's default route, waits seconds for a nameserver that is not there.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]


def serve_page(host, port):
    server = PageServer((host, port), PageHandler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def make_y4m(path, width, height, fps, noise, seconds=10):
    """A picture no encoder compresses well: testsrc2 (moving) under per-frame noise."""
    cmd = ["ffmpeg", "-v", "error", "-nostdin", "-y", "-f", "lavfi",
           "-i", f"testsrc2=size={width}x{height}:rate={fps}",
           "-vf", f"noise=alls={noise}:allf=t+u,format=yuv420p", "-t", str(seconds),
           "-f", "yuv4mpegpipe", path]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=FFMPEG_TIMEOUT)
    if out.returncode:
        raise RuntimeError("ffmpeg (y4m): " + (out.stderr.strip() or "failed"))


FIREFOX_PREFS = {
    # fake devices, no prompt, page on plain http
    "media.navigator.streams.fake": True,
    "media.navigator.permission.disabled": True,
    "media.devices.insecure.enabled": True,
    "media.getusermedia.insecure.enabled": True,
    "media.autoplay.default": 0,
    "media.autoplay.blocking_policy": 0,
    # console.log of pages on stdout
    "devtools.console.stdout.content": True,
    "browser.dom.window.dump.enabled": True,
    # ICE: every interface, no TURN/STUN defaults
    "media.peerconnection.ice.default_address_only": False,
    "media.peerconnection.ice.no_host": False,
    "media.peerconnection.ice.proxy_only": False,
    "media.peerconnection.use_document_iceservers": True,
    "media.peerconnection.default_iceservers": "[]",
    # H.264 through the system ffmpeg instead of downloading OpenH264
    "media.ffmpeg.encoder.enabled": True,
    "media.gmp-manager.url": "",
    "media.gmp-manager.updateEnabled": False,
    "media.gmp-gmpopenh264.autoupdate": False,
    "media.gmp-gmpopenh264.enabled": False,
    "media.gmp-widevinecdm.enabled": False,
    "media.eme.enabled": False,
    # nothing phones home
    "app.update.enabled": False,
    "app.update.auto": False,
    "app.update.checkInstallTime": False,
    "app.update.disabledForTesting": True,
    "app.normandy.enabled": False,
    "app.normandy.api_url": "",
    "app.shield.optoutstudies.enabled": False,
    "toolkit.telemetry.enabled": False,
    "toolkit.telemetry.unified": False,
    "toolkit.telemetry.archive.enabled": False,
    "toolkit.telemetry.server": "",
    "toolkit.telemetry.shutdownPingSender.enabled": False,
    "toolkit.telemetry.firstShutdownPing.enabled": False,
    "toolkit.telemetry.newProfilePing.enabled": False,
    "toolkit.telemetry.updatePing.enabled": False,
    "toolkit.telemetry.bhrPing.enabled": False,
    "datareporting.healthreport.uploadEnabled": False,
    "datareporting.policy.dataSubmissionEnabled": False,
    "datareporting.policy.firstRunURL": "",
    "browser.ping-centre.telemetry": False,
    "browser.newtabpage.activity-stream.telemetry": False,
    "browser.newtabpage.activity-stream.feeds.telemetry": False,
    "browser.newtabpage.activity-stream.feeds.section.topstories": False,
    "browser.newtabpage.activity-stream.feeds.system.topstories": False,
    "browser.newtabpage.activity-stream.feeds.topsites": False,
    "browser.newtabpage.activity-stream.default.sites": "",
    "browser.newtabpage.enabled": False,
    "browser.aboutwelcome.enabled": False,
    "browser.startup.page": 0,
    "browser.startup.homepage": "about:blank",
    "browser.startup.homepage_override.mstone": "ignore",
    "browser.shell.checkDefaultBrowser": False,
    "browser.sessionstore.resume_from_crash": False,
    "browser.tabs.warnOnClose": False,
    "browser.discovery.enabled": False,
    "browser.search.update": False,
    "browser.search.geoip.url": "",
    "browser.region.network.url": "",
    "browser.region.update.enabled": False,
    "browser.safebrowsing.malware.enabled": False,
    "browser.safebrowsing.phishing.enabled": False,
    "browser.safebrowsing.downloads.enabled": False,
    "browser.safebrowsing.downloads.remote.enabled": False,
    "browser.safebrowsing.blockedURIs.enabled": False,
    "browser.safebrowsing.provider.google4.updateURL": "",
    "browser.safebrowsing.provider.google.updateURL": "",
    "browser.safebrowsing.provider.mozilla.updateURL": "",
    "browser.contentblocking.report.lockwise.enabled": False,
    "extensions.update.enabled": False,
    "extensions.update.autoUpdateDefault": False,
    "extensions.getAddons.cache.enabled": False,
    "extensions.systemAddon.update.enabled": False,
    "extensions.blocklist.enabled": False,
    "extensions.autoDisableScopes": 15,
    "services.settings.server": "",
    "services.sync.engine.addons": False,
    "security.remote_settings.crlite_filters.enabled": False,
    "security.remote_settings.intermediates.enabled": False,
    "security.OCSP.enabled": 0,
    "geo.enabled": False,
    "geo.provider.network.url": "",
    "dom.push.enabled": False,
    "dom.push.connection.enabled": False,
    "dom.push.serverURL": "",
    "network.captive-portal-service.enabled": False,
    "network.connectivity-service.enabled": False,
    "captivedetect.canonicalURL": "",
    "network.prefetch-next": False,
    "network.dns.disablePrefetch": True,
    "network.dns.disablePrefetchFromHTTPS": True,
    "network.http.speculative-parallel-limit": 0,
    "network.predictor.enabled": False,
    "network.predictor.enable-prefetch": False,
    "network.trr.mode": 5,
    "network.proxy.type": 0,
    "toolkit.startup.max_resumed_crashes": -1,
    "browser.crashReports.unsubmittedCheck.enabled": False,
}

CHROMIUM_QUIET = [
    "--no-first-run", "--no-default-browser-check", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--metrics-recording-only",
    "--disable-default-apps", "--disable-breakpad", "--disable-client-side-phishing-detection",
    "--disable-domain-reliability", "--disable-extensions", "--disable-background-timer-throttling",
    "--disable-renderer-backgrounding", "--disable-backgrounding-occluded-windows",
    "--password-store=basic", "--mute-audio",
]
CHROMIUM_DISABLED_FEATURES = ["OptimizationHints", "MediaRouter", "Translate", "AutofillServerCommunication",
                              "CertificateTransparencyComponentUpdater", "InterestFeedContentSuggestions"]


def firefox_user_js(mdns):
    prefs = dict(FIREFOX_PREFS)
    prefs["media.peerconnection.ice.obfuscate_host_addresses"] = bool(mdns)
    return "".join(f"user_pref({json.dumps(k)}, {json.dumps(v)});\n" for k, v in prefs.items())


def browser_version(exe):
    try:
        out = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=20,
                             env={**os.environ, "HOME": tempfile.gettempdir()})
        return out.stdout.strip().splitlines()[-1] if out.stdout.strip() else None
    except (OSError, subprocess.TimeoutExpired):
        return None


def parse_line(text):
    """('flowrec-stats', {...}) from a browser output line, or None."""
    m = LINE.search(text)
    if not m:
        return None
    rest = text[m.end():]
    decoder = json.JSONDecoder()
    for candidate in (rest, rest.replace('\\"', '"')):
        try:
            obj, _ = decoder.raw_decode(candidate)
            return m.group(1), obj
        except ValueError:
            continue
    return m.group(1), {"unparsed": rest[:500]}


def reader(stream, log, out):
    for raw in iter(stream.readline, b""):
        text = raw.decode("utf-8", errors="replace")
        if log:
            log.write(text)
            log.flush()
        parsed = parse_line(text)
        if parsed:
            out.put(parsed)
    out.put(("eof", None))


def processes_using(path):
    """PIDs whose command line mentions `path` (our profile dir): chromium's crashpad handlers
    start their own sessions, so the process group does not reach them."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                if path.encode() in f.read():
                    pids.append(int(entry))
        except OSError:
            continue
    return pids


def end_process(proc, tmp):
    """SIGTERM the browser's process group (it runs in its own session), SIGKILL after 5 s;
    then SIGKILL whatever else still runs with our profile dir on its command line."""
    _end_group(proc)
    for _ in range(20):
        left = processes_using(tmp)
        if not left:
            return
        for pid in left:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.1)


def _end_group(proc):
    if proc.poll() is not None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # children that outlived the leader
        except ProcessLookupError:
            pass
        return
    for sig, wait in ((signal.SIGTERM, 5), (signal.SIGKILL, 5)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(wait)
            break
        except subprocess.TimeoutExpired:
            continue
    # children that outlived the leader (same group)
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def stats(values):
    values = [v for v in values if v is not None]
    if not values:
        return None
    return {"min": min(values), "max": max(values), "median": statistics.median(values),
            "mean": round(statistics.fmean(values), 1), "last": values[-1], "n": len(values)}


def rate_kbps(samples, key_fn):
    """kbit/s between the first and last sample that have a value."""
    pts = [(s["t"], key_fn(s)) for s in samples if s.get("t") is not None and key_fn(s) is not None]
    if len(pts) < 2 or pts[-1][0] <= pts[0][0]:
        return None
    return round((pts[-1][1] - pts[0][1]) * 8 / 1000 / (pts[-1][0] - pts[0][0]), 1)


def summarise(samples, since):
    timed = [s for s in samples if s.get("t") is not None]
    window = [s for s in timed if s["t"] >= since]
    out = {"from": since, "samples": len(timed), "window_samples": len(window),
           "last_t": timed[-1]["t"] if timed else None,
           "availableOutgoingBitrate": stats([s.get("availableOutgoingBitrate") for s in window]),
           "availableOutgoingBitrateAll": stats([s.get("availableOutgoingBitrate") for s in timed]),
           "video": {}, "audio": None}
    rids = []
    for s in timed:
        for v in s.get("video") or []:
            key = v.get("rid") or "video"
            if key not in rids:
                rids.append(key)

    def stream_of(s, key):
        for v in s.get("video") or []:
            if (v.get("rid") or "video") == key:
                return v
        return None

    for key in rids:
        every = [v for v in (stream_of(s, key) for s in timed) if v]
        inwin = [(s, stream_of(s, key)) for s in window]
        inwin = [(s, v) for s, v in inwin if v]
        reasons = {}
        for _, v in inwin:
            r = v.get("qualityLimitationReason")
            if r is not None:
                reasons[r] = reasons.get(r, 0) + 1
        last = every[-1] if every else {}
        out["video"][key] = {
            "ssrc": last.get("ssrc"),
            "codec": last.get("codec"),
            "encoder": last.get("encoderImplementation"),
            "frameWidths": sorted({v["frameWidth"] for v in every if v.get("frameWidth")}),
            "frameHeights": sorted({v["frameHeight"] for v in every if v.get("frameHeight")}),
            "frameWidthsFrom": sorted({v["frameWidth"] for _, v in inwin if v.get("frameWidth")}),
            "kbps": rate_kbps([s for s, _ in inwin], lambda s, k=key: (stream_of(s, k) or {}).get("bytesSent")),
            "fps": stats([v.get("framesPerSecond") for _, v in inwin]),
            "targetBitrate": stats([v.get("targetBitrate") for _, v in inwin]),
            "qualityLimitation": reasons,
            "framesEncoded": last.get("framesEncoded"),
            "framesSent": last.get("framesSent"),
            "packetsSent": last.get("packetsSent"),
            "bytesSent": last.get("bytesSent"),
            "retransmittedPacketsSent": last.get("retransmittedPacketsSent"),
            "nackCount": last.get("nackCount"),
            "pliCount": last.get("pliCount"),
            "firCount": last.get("firCount"),
            "roundTripTime": (last.get("remote") or {}).get("roundTripTime"),
        }
    audio = [s.get("audio") for s in timed if s.get("audio")]
    if audio:
        out["audio"] = {"bytesSent": audio[-1].get("bytesSent"), "packetsSent": audio[-1].get("packetsSent"),
                        "kbps": rate_kbps(window, lambda s: (s.get("audio") or {}).get("bytesSent"))}
    return out


def page_url(a, host, port):
    q = {"url": a.url, "autostart": "1", "seconds": f"{a.seconds:g}"}
    for name in ("token", "codec", "width", "height", "fps", "maxbitrate", "pause"):
        v = getattr(a, name)
        if v is not None:
            q[name] = str(v)
    if a.simulcast:
        q["simulcast"] = "1"
    hostpart = f"[{host}]" if ":" in host else host
    return f"http://{hostpart}:{port}/whip-publisher.html?" + urllib.parse.urlencode(q)


def browser_command(a, url, origin, tmp):
    if a.browser == "chromium":
        exe = shutil.which("chromium") or "chromium"
        # Plain IP host candidates without --disable-features=WebRtcHideLocalIpsWithMdns: Chromium
        # only hides them behind mDNS names from pages that have no camera/microphone permission.
        disabled = list(CHROMIUM_DISABLED_FEATURES)
        cmd = [exe, "--headless=new", "--no-sandbox", "--disable-gpu",
               "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
               f"--use-file-for-fake-video-capture={a.y4m}",
               "--autoplay-policy=no-user-gesture-required",
               f"--user-data-dir={os.path.join(tmp, 'chromium-profile')}",
               "--enable-logging=stderr", "--v=0", *CHROMIUM_QUIET,
               "--disable-features=" + ",".join(disabled)]
        if not origin.startswith(("http://127.", "http://localhost", "http://[::1]")):
            cmd.append(f"--unsafely-treat-insecure-origin-as-secure={origin}")
        cmd += a.browser_arg
        return exe, cmd + [url]
    exe = shutil.which("firefox-esr") or shutil.which("firefox") or "firefox-esr"
    profile = os.path.join(tmp, "firefox-profile")
    os.makedirs(profile, exist_ok=True)
    with open(os.path.join(profile, "user.js"), "w") as f:
        f.write(firefox_user_js(a.mdns))
    return exe, [exe, "--headless", "--no-remote", "--profile", profile, *a.browser_arg, url]


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--browser", choices=["chromium", "firefox"], required=True)
    p.add_argument("--url", required=True, help="WHIP endpoint, e.g. http://10.99.0.1:8080/whip/demo")
    p.add_argument("--seconds", type=float, required=True, help="stay connected this long, then DELETE")
    p.add_argument("--page-host", default="127.0.0.1", help="serve the page on this address")
    p.add_argument("--page-port", type=int, default=0)
    p.add_argument("--y4m", help="chromium's fake camera (default: a busy picture made with ffmpeg)")
    p.add_argument("--noise", type=int, default=16,
                   help="ffmpeg noise strength (alls) of the made-up y4m (default 16)")
    p.add_argument("--width", type=int)
    p.add_argument("--height", type=int)
    p.add_argument("--fps", type=int)
    p.add_argument("--simulcast", action="store_true")
    p.add_argument("--codec", choices=["vp8", "vp9", "h264"])
    p.add_argument("--maxbitrate", type=int, help="kbit/s of the single encoding")
    p.add_argument("--pause", help="layer schedule, e.g. f@20,f@30")
    p.add_argument("--token")
    p.add_argument("--mdns", action="store_true", default=False,
                   help="firefox: keep its mDNS (<uuid>.local) host candidates")
    p.add_argument("--summary-from", type=float, default=20.0)
    p.add_argument("--connect-timeout", type=float, default=45.0,
                   help="from the browser's start to 'connected'")
    p.add_argument("--log", help="write the browser's stdout+stderr here")
    p.add_argument("--keep-tmp", action="store_true", help="keep the profile/y4m temp dir (printed)")
    p.add_argument("--browser-arg", action="append", default=[], help="extra browser argument (repeatable)")
    a = p.parse_args()

    if not os.path.exists(PAGE):
        print(f"browser_publish: no page at {PAGE}", file=sys.stderr)
        return 1

    tmp = tempfile.mkdtemp(prefix=f"flowrec-{a.browser}-")
    proc = None
    server = None
    exe = None
    log = None
    result = {"browser": a.browser, "version": None, "page": None, "connected": False, "done": None,
              "events": [], "samples": [], "summary": None}
    code = 1

    def on_signal(signo, _frame):
        raise KeyboardInterrupt(f"signal {signo}")

    signal.signal(signal.SIGTERM, on_signal)
    try:
        if a.browser == "chromium" and not a.y4m:
            a.y4m = os.path.join(tmp, "camera.y4m")
            make_y4m(a.y4m, a.width or 640, a.height or 360, a.fps or 30, a.noise)
        server = serve_page(a.page_host, a.page_port)
        host, port = server.server_address[:2]
        url = page_url(a, host, port)
        result["page"] = url
        origin = f"http://{host}:{port}" if ":" not in host else f"http://[{host}]:{port}"
        exe, cmd = browser_command(a, url, origin, tmp)
        result["command"] = cmd
        home = os.path.join(tmp, "home")
        os.makedirs(home, exist_ok=True)
        env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
        env.update(HOME=home, XDG_CONFIG_HOME=os.path.join(home, ".config"),
                   XDG_CACHE_HOME=os.path.join(home, ".cache"), MOZ_CRASHREPORTER_DISABLE="1",
                   MOZ_DISABLE_AUTO_SAFE_MODE="1")
        env.pop("DISPLAY", None)
        log = open(a.log, "w") if a.log else None
        started = time.monotonic()
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, env=env, cwd=tmp, start_new_session=True)
        lines = queue.Queue()
        threading.Thread(target=reader, args=(proc.stdout, log, lines), daemon=True).start()

        connect_deadline = started + a.connect_timeout
        end_deadline = connect_deadline + a.seconds + END_MARGIN
        eof = False
        while True:
            now = time.monotonic()
            if not result["connected"] and now > connect_deadline:
                result["events"].append({"event": "tool-timeout", "what": "not connected",
                                         "after": round(now - started, 1)})
                break
            if now > end_deadline:
                result["events"].append({"event": "tool-timeout", "what": "no flowrec-done",
                                         "after": round(now - started, 1)})
                break
            if eof and proc.poll() is not None:
                result["events"].append({"event": "browser-exited", "code": proc.returncode})
                break
            try:
                kind, obj = lines.get(timeout=0.5)
            except queue.Empty:
                continue
            if kind == "eof":
                eof = True
                continue
            if kind == "flowrec-stats":
                result["samples"].append(obj)
                if obj.get("t") is not None:
                    result["connected"] = True
            elif kind == "flowrec-event":
                result["events"].append(obj)
                if obj.get("event") == "connection-state" and obj.get("state") == "connected":
                    result["connected"] = True
                    result["connected_after"] = round(time.monotonic() - started, 1)
            elif kind == "flowrec-done":
                result["done"] = obj
                result["connected"] = result["connected"] or bool(obj.get("connected"))
                break
        done = result["done"] or {}
        if not result["connected"]:
            code = 3
        elif done.get("reason") == "seconds":
            code = 0
        else:
            code = 4
    except KeyboardInterrupt as e:
        result["events"].append({"event": "tool-interrupted", "message": str(e)})
        code = 4 if result["connected"] else 3
    except Exception as e:  # noqa: BLE001 — report, clean up, non-zero exit
        result["error"] = f"{type(e).__name__}: {e}"
        print(f"browser_publish: {result['error']}", file=sys.stderr)
        code = 1
    finally:
        if proc is not None:
            end_process(proc, tmp)
        if server is not None:
            server.shutdown()
            server.server_close()
        if log:
            log.close()
        if a.keep_tmp:
            result["tmp"] = tmp
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    if exe:
        result["version"] = browser_version(exe)  # after the run: `chromium --version` takes ~1 s
    result["summary"] = summarise(result["samples"], a.summary_from)
    result["exit"] = code
    print(json.dumps(result))
    return code


if __name__ == "__main__":
    sys.exit(main())
