"""Rule evaluation time per page view in the browser (Debian's Chromium, Playwright).

    python bench/rules_browser.py [--rules 200] [--samples 3000]

Bundles the chat manager's rules engine (static/src/chatmanager/rules.ts) and
its facts builder with esbuild, serves them on 127.0.0.1 (a free port) with
cross-origin isolation so that performance.now() has 5 µs resolution, and
measures, for 200 configured triggers of 1-4 conditions over every operator
(regular expressions included):

- the engine alone: every trigger's rule evaluated against one page event's facts;
- a whole page event: building the facts (journey, clock in the tenant's time
  zone, custom variables read from the page) and evaluating every rule;

each at the normal CPU rate and with the CPU throttled 4x (CDP). It runs ``--rounds``
rounds of ``--samples`` page events and prints p50/p99 per page event of the best
round and of the median round (on a shared machine other processes preempt the
browser; the best round shows what the code costs, the median what a busy
machine adds). Figures go in docs/performance.md; nothing is asserted.
"""

from __future__ import annotations

import argparse
import http.server
import random
import subprocess
import tempfile
import threading
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

ENTRY = """
import { evaluate } from "./static/src/chatmanager/rules";
import { factsBuild, variablesRead } from "./static/src/chatmanager/facts";
(window as any).parleyBench = { evaluate, factsBuild, variablesRead };
"""

PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>Pricing - Acme Tea Shop</title></head>
<body><h1 id="product" data-sku="TEA-42">Enthusiast plan</h1><p class="price">€19.00</p>
<script>window.dataLayer = [{cart: {total: 129.9, items: 3}}, {event: "view"}];</script>
<script src="/bench.js"></script></body></html>"""


def _rules(count: int, seed: int = 6) -> list[dict]:
    rng = random.Random(seed)
    leaves = [
        lambda: {
            "fact": "page.url",
            "op": rng.choice(["contains", "notContains", "startsWith", "endsWith"]),
            "value": rng.choice(["/pricing", "/products/", "https://shop.example", "?plan=pro", "/checkout"]),
        },
        lambda: {
            "fact": "page.path",
            "op": rng.choice(["equals", "notEquals"]),
            "value": rng.choice(["/pricing", "/", "/cart"]),
            "ignoreCase": rng.random() < 0.3,
        },
        lambda: {
            "fact": "page.url",
            "op": rng.choice(["matches", "notMatches"]),
            "value": rng.choice(["^https?://[^/]+/(pricing|plans)", "utm_source=(mail|ads)", "/products/[a-z-]+$"]),
        },
        lambda: {
            "fact": "page.title",
            "op": "contains",
            "value": rng.choice(["Pricing", "Cart", "Tea"]),
            "ignoreCase": True,
        },
        lambda: {
            "fact": rng.choice(["visit.pageViews", "page.viewCount", "visit.count"]),
            "op": rng.choice(["gte", "gt", "lt", "lte", "eq", "ne"]),
            "value": rng.randint(1, 6),
        },
        lambda: {
            "fact": rng.choice(["page.timeOnPage", "visit.duration"]),
            "op": "between",
            "value": [10, rng.randint(20, 600)],
        },
        lambda: {
            "fact": "visit.pagesSeen",
            "op": rng.choice(["includes", "notIncludes"]),
            "value": rng.choice(["/cart", "/pricing"]),
        },
        lambda: {"fact": "visit.pagesSeen", "op": "includesMatching", "value": "^/products/"},
        lambda: {"fact": "time.dayOfWeek", "op": rng.choice(["in", "notIn"]), "value": [1, 2, 3, 4, 5]},
        lambda: {
            "fact": "time.minuteOfDay",
            "op": "timeBetween",
            "value": rng.choice([["09:00", "17:30"], ["22:00", "06:00"]]),
        },
        lambda: {"fact": rng.choice(["identity.present", "identity.signed"]), "op": rng.choice(["isTrue", "isFalse"])},
        lambda: {"fact": "var.cartTotal", "op": rng.choice(["gt", "lte"]), "value": rng.choice([50, 100, 150])},
        lambda: {"fact": "var.plan", "op": rng.choice(["in", "isSet", "isNotSet"]), "value": ["Taster", "Enthusiast"]},
        lambda: {"fact": "var.loggedIn", "op": "isTrue"},
    ]
    rules = []
    for _ in range(count):
        conditions = [rng.choice(leaves)() for _ in range(rng.randint(1, 4))]
        rules.append({"all": conditions} if rng.random() < 0.85 else {"any": conditions})
    return rules


VARIABLES = [
    {"name": "cartTotal", "label": "Cart", "type": "number", "source": "data_layer", "key": "cart.total"},
    {"name": "plan", "label": "Plan", "type": "string", "source": "css_text", "key": "#product"},
    {
        "name": "sku",
        "label": "SKU",
        "type": "string",
        "source": "css_attribute",
        "key": "#product",
        "attribute": "data-sku",
    },
    {"name": "ref", "label": "Ref", "type": "string", "source": "query_parameter", "key": "ref"},
    {"name": "loggedIn", "label": "Logged in", "type": "boolean", "source": "cookie", "key": "logged_in"},
]

MEASURE = """([rules, variables, samples]) => {
  const b = window.parleyBench;
  const now = Date.now();
  const journey = {visitor: "v", visit: "w", visitNumber: 2, visitStartedAt: now - 95000, lastActiveAt: now,
    pages: [{id: "a", url: location.origin + "/", path: "/", title: "Home", at: now - 60000},
            {id: "b", url: location.origin + "/products/kettle", path: "/products/kettle", title: "Kettle",
             at: now - 40000},
            {id: "c", url: location.href, path: location.pathname, title: document.title, at: now - 20000}]};
  const identity = {extra: {}, email: "v@example.com"};
  const facts = b.factsBuild({journey, pageStartedAt: now - 20000, now, timeZone: "Europe/Amsterdam", identity,
    variables: b.variablesRead(variables, window, identity), win: window});
  const engine = [], whole = [];
  let held = 0;
  for (let i = 0; i < 200; i++) for (const rule of rules) b.evaluate(rule, facts);  // warm up
  for (let s = 0; s < samples; s++) {
    let t = performance.now();
    for (const rule of rules) if (b.evaluate(rule, facts)) held++;
    engine.push(performance.now() - t);
    t = performance.now();
    const f = b.factsBuild({journey, pageStartedAt: now - 20000, now: Date.now(), timeZone: "Europe/Amsterdam",
      identity, variables: b.variablesRead(variables, window, identity), win: window});
    for (const rule of rules) if (b.evaluate(rule, f)) held++;
    whole.push(performance.now() - t);
  }
  const pct = (xs, p) => {
    const s = xs.slice().sort((a, b) => a - b);
    return s[Math.min(s.length - 1, Math.floor(p * s.length))];
  };
  const sum = (xs) => ({p50: pct(xs, 0.5), p99: pct(xs, 0.99), max: pct(xs, 1)});
  return {engine: sum(engine), whole: sum(whole), held: held / samples / 2, isolated: crossOriginIsolated};
}"""


def _bundle(directory: Path) -> Path:
    entry = ROOT / "bench-rules-entry.ts"
    entry.write_text(ENTRY)
    try:
        out = directory / "bench.js"
        subprocess.run(
            [
                "node_modules/.bin/esbuild",
                str(entry),
                "--bundle",
                "--minify",
                "--format=iife",
                "--target=es2020",
                f"--outfile={out}",
                "--log-level=warning",
            ],
            cwd=ROOT,
            check=True,
        )
        return out
    finally:
        entry.unlink()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rules", type=int, default=200)
    parser.add_argument("--samples", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        folder = Path(directory)
        _bundle(folder)
        (folder / "pricing").mkdir()
        (folder / "pricing" / "index.html").write_text(PAGE)

        class Handler(http.server.SimpleHTTPRequestHandler):
            def __init__(self, *a, **k):  # type: ignore[no-untyped-def]
                super().__init__(*a, directory=str(folder), **k)

            def end_headers(self) -> None:
                self.send_header("Cross-Origin-Opener-Policy", "same-origin")
                self.send_header("Cross-Origin-Embedder-Policy", "require-corp")
                super().end_headers()

            def log_message(self, *args: object) -> None:
                pass

        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        url = f"http://127.0.0.1:{server.server_address[1]}/pricing/?plan=pro&ref=mail"
        rules = _rules(args.rules)
        load = Path("/proc/loadavg").read_text().split()[0] if Path("/proc/loadavg").exists() else "?"
        conditions = sum(len(next(iter(rule.values()))) for rule in rules)
        print(
            f"rule evaluation in Chromium (load average {load}): {args.rules} rules ({conditions} "
            f"conditions), {args.rounds} rounds of {args.samples} page events per setting"
        )
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            for rate in (1, 4):
                page = browser.new_page()
                page.context.add_cookies([{"name": "logged_in", "value": "yes", "url": url}])
                if rate != 1:
                    page.context.new_cdp_session(page).send("Emulation.setCPUThrottlingRate", {"rate": rate})
                page.goto(url)
                results = [page.evaluate(MEASURE, [rules, VARIABLES, args.samples]) for _ in range(args.rounds)]
                label = "CPU normal " if rate == 1 else f"CPU /{rate}     "
                for part, name in (("engine", "rules only      "), ("whole", "facts + rules   ")):
                    by_p99 = sorted(results, key=lambda result: result[part]["p99"])
                    best, median = by_p99[0][part], by_p99[len(by_p99) // 2][part]
                    print(
                        f"  {label} {name} best round p50 {best['p50']:.3f} ms p99 {best['p99']:.3f} ms; "
                        f"median round p50 {median['p50']:.3f} ms p99 {median['p99']:.3f} ms"
                    )
                print(f"  ({results[0]['held']:.0f} rules hold per event; 5 µs timer: {results[0]['isolated']})")
                page.close()
            browser.close()
        server.shutdown()


if __name__ == "__main__":
    main()
