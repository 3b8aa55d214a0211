"""Render every page of the built site in headless Chromium and check what a reader sees.

Run from the repository root after ``python docs/build.py`` (``make docs-check`` does both):
``python docs/site_check.py [--html docs/_build/html] [--widths 1400,1000] [--pages index,31_diffgrad]``

For each page and each window width, after MathJax has typeset and the images have loaded, it
fails on:

- **overflow**: an element of the article (code, output, table, equation, figure) whose right
  edge passes the content column's, or a box in it that scrolls or clips horizontally because
  its content is wider than the column (a long code line, an unbroken equation, a wide table);
  also a page that scrolls sideways as a whole;
- **images** that fail to load;
- **math**: MathJax's error nodes (``mjx-merror``: unknown macro, bad TeX), math left untypeset,
  or a MathJax that did not load (the site carries its own copy: docs/conf.py).

It talks to Chromium through the DevTools protocol (``websockets``): Chromium is the Debian
``chromium`` package (``apt-get install -y chromium``) or whatever ``$CHROMIUM`` names. Without
a browser it exits 0 with a line saying it skipped when ``--skip-missing`` is given (``make test``
does), else 2. Pages in ``OVERFLOW_PENDING`` report their overflow without failing, until their
notebooks are wrapped; a pending page that no longer overflows fails, so the list only shrinks.
"""
import argparse, base64, contextlib, json, os, shutil, subprocess, sys, tempfile, time, urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HTML = ROOT/'docs'/'_build'/'html'

# Pages whose notebooks still hold content wider than the column (long code lines, unbroken
# equations): their overflow is reported, not failed. Remove a page once it passes.
OVERFLOW_PENDING: set[str] = set()

BROWSERS = ('chromium', 'chromium-browser', 'google-chrome', 'google-chrome-stable')

# Runs in the page: waits for MathJax and images, then measures. Returns a JSON-able dict.
PROBE = r"""
async () => {
  const sleep = ms => new Promise(r => setTimeout(r, ms));
  const within = (p, ms) => Promise.race([p, sleep(ms).then(() => 'timeout')]);
  const out = {mathjax: null, images: [], math: [], overflow: []};
  if (document.querySelector('.math')) {
    for (let i = 0; i < 100 && !(window.MathJax && MathJax.startup && MathJax.startup.promise); i++) await sleep(50);
    if (!(window.MathJax && MathJax.startup)) out.mathjax = 'MathJax did not load';
    else if (await within(MathJax.startup.promise.then(() => 'ok'), 20000) === 'timeout') out.mathjax = 'MathJax timed out';
  }
  await within(Promise.all([...document.images].map(im => im.complete ? 0 :
      new Promise(r => { im.addEventListener('load', r); im.addEventListener('error', r); }))), 10000);
  await new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));
  for (const im of document.images)
    if (!im.complete || im.naturalWidth === 0) out.images.push(im.getAttribute('src'));
  const where = el => {  // the section an element is in: its nearest heading above
    let h = null;
    for (const x of document.querySelectorAll('h1,h2,h3,h4')) {
      if (x.compareDocumentPosition(el) & Node.DOCUMENT_POSITION_FOLLOWING) h = x; else break;
    }
    return h ? h.textContent.replace(/#$/, '').trim().slice(0, 60) : '';
  };
  const what = el => {
    const cls = [...el.classList].slice(0, 3).join('.');
    const txt = (el.innerText || el.textContent || '').trim().split('\n').sort((a, b) => b.length - a.length)[0] || '';
    return `${el.tagName.toLowerCase()}${cls ? '.' + cls : ''} in "${where(el)}": ${txt.slice(0, 90)}`;
  };
  for (const el of document.querySelectorAll('mjx-merror'))
    out.math.push(`${el.getAttribute('data-mjx-error') || 'error'} in "${where(el)}": ${el.textContent.slice(0, 80)}`);
  for (const el of document.querySelectorAll('mtext[mathcolor="red"]'))  // noundefined's mark
    if (el.textContent.startsWith('\\')) out.math.push(`undefined macro ${el.textContent} in "${where(el)}"`);
  for (const el of document.querySelectorAll('.math'))
    if (!el.querySelector('mjx-container') && !el.closest('mjx-container') && !out.mathjax)
      out.math.push(`not typeset in "${where(el)}": ${el.textContent.slice(0, 80)}`);
  const col = document.querySelector('article.bd-article') || document.querySelector('main') || document.body;
  const right = col.getBoundingClientRect().right;
  out.column = Math.round(col.getBoundingClientRect().width);
  // a box that clips or scrolls sideways (inline boxes have no scroll width of their own)
  const clips = el => { const s = getComputedStyle(el); return s.overflowX !== 'visible' && s.display !== 'inline'; };
  const walk = el => {
    for (const c of el.children) {
      if (c.tagName === 'MJX-ASSISTIVE-MML') continue;  // MathML for screen readers, clipped on purpose
      const r = c.getBoundingClientRect();
      if (r.width === 0 && r.height === 0) { walk(c); continue; }
      if (r.right > right + 1) { out.overflow.push(`runs ${Math.round(r.right - right)} px past the column: ${what(c)}`); continue; }
      if (clips(c) && c.scrollWidth > c.clientWidth + 1) {
        out.overflow.push(`${c.scrollWidth - c.clientWidth} px hidden behind a sideways scroll: ${what(c)}`); continue;
      }
      if (c.tagName !== 'MJX-CONTAINER') walk(c);  // MathJax's own parts clip on purpose
    }
  };
  walk(col);
  const doc = document.documentElement;
  if (doc.scrollWidth > doc.clientWidth + 1) out.overflow.push(`the page scrolls sideways by ${doc.scrollWidth - doc.clientWidth} px`);
  return out;
}
"""


def find_browser():
    for name in ([os.environ['CHROMIUM']] if os.environ.get('CHROMIUM') else []) + list(BROWSERS):
        if path := shutil.which(name): return path
    return None


class Browser:
    "A headless Chromium and one tab, driven through the DevTools protocol."

    def __init__(self, exe, timeout=60):
        from websockets.sync.client import connect
        self.tmp = tempfile.TemporaryDirectory(prefix='gn-chromium-')
        self.proc = subprocess.Popen(
            [exe, '--headless', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage',
             '--hide-scrollbars', '--mute-audio', '--no-first-run', '--no-default-browser-check',
             '--disable-extensions', '--disable-background-networking', '--remote-debugging-port=0',
             f'--user-data-dir={self.tmp.name}', 'about:blank'],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        port_file = Path(self.tmp.name)/'DevToolsActivePort'
        for _ in range(int(timeout * 10)):
            if port_file.exists() and len(port_file.read_text().split()) >= 2: break
            if self.proc.poll() is not None: raise RuntimeError(f'{exe} exited with {self.proc.returncode}')
            time.sleep(0.1)
        else: raise RuntimeError(f'{exe} did not open its DevTools port in {timeout} s')
        port = port_file.read_text().split()[0]
        req = urllib.request.Request(f'http://127.0.0.1:{port}/json/new?about:blank', method='PUT')
        with urllib.request.urlopen(req, timeout=timeout) as r: tab = json.load(r)
        self.stack = contextlib.ExitStack()
        self.ws = self.stack.enter_context(connect(tab['webSocketDebuggerUrl'], max_size=None,
                                                   open_timeout=timeout))
        self.timeout, self.next_id, self.events = timeout, 0, []
        self.send('Page.enable'); self.send('Runtime.enable')

    def send(self, method, **params):
        self.next_id += 1
        self.ws.send(json.dumps({'id': self.next_id, 'method': method, 'params': params}))
        deadline = time.time() + self.timeout
        while time.time() < deadline:
            msg = json.loads(self.ws.recv(timeout=max(0.1, deadline - time.time())))
            if msg.get('id') == self.next_id:
                if 'error' in msg: raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get('result', {})
            self.events.append(msg)
        raise TimeoutError(method)

    def wait_event(self, method):
        deadline = time.time() + self.timeout
        while True:
            for i, e in enumerate(self.events):
                if e.get('method') == method: return self.events.pop(i)
            if time.time() > deadline: raise TimeoutError(method)
            self.events.append(json.loads(self.ws.recv(timeout=max(0.1, deadline - time.time()))))

    def resize(self, width, height=1000):
        self.send('Emulation.setDeviceMetricsOverride', width=width, height=height,
                  deviceScaleFactor=1, mobile=False)

    def open(self, url):
        self.events.clear()
        self.send('Page.navigate', url=url)
        self.wait_event('Page.loadEventFired')

    def probe(self):
        r = self.send('Runtime.evaluate', expression=f'({PROBE})()', awaitPromise=True,
                      returnByValue=True)
        if 'exceptionDetails' in r: raise RuntimeError(r['exceptionDetails'].get('text'))
        return r['result']['value']

    def screenshot(self, path, width, height):
        self.resize(width, height)
        data = self.send('Page.captureScreenshot', format='png')['data']
        Path(path).write_bytes(base64.b64decode(data))

    def errors(self):
        "JavaScript exceptions the page threw since it was opened."
        return [e['params']['exceptionDetails'].get('exception', {}).get('description', '')
                or e['params']['exceptionDetails'].get('text', '')
                for e in self.events if e.get('method') == 'Runtime.exceptionThrown']

    def close(self):
        try: self.stack.close()
        finally:
            self.proc.terminate()
            try: self.proc.wait(10)
            except subprocess.TimeoutExpired: self.proc.kill()
            self.tmp.cleanup()


def check(html=HTML, widths=(1400, 1000), pages=None, shots=None, verbose=False):
    "Check the pages; returns (failures, pending), each a list of lines."
    exe = find_browser()
    html = Path(html)
    names = pages or sorted(p.stem for p in html.glob('*.html') if p.stem != 'search')
    browser = Browser(exe)
    failures, pending, seen = [], [], {}
    try:
        for name in names:
            browser.open((html/f'{name}.html').resolve().as_uri())
            page_problems = []
            for w in widths:
                browser.resize(w)
                r = browser.probe()
                if verbose: print(f'  {name} @ {w}px: column {r.get("column")} px', file=sys.stderr)
                fatal = [f'image failed to load: {s}' for s in r['images']] + \
                        [f'math: {m}' for m in r['math']] + ([f'math: {r["mathjax"]}'] if r['mathjax'] else [])
                for p in fatal: failures.append(f'{name} @ {w}px: {p}')
                for p in r['overflow']: page_problems.append(f'{name} @ {w}px: {p}')
            for e in browser.errors(): failures.append(f'{name}: JavaScript error: {e[:200]}')
            (pending if name in OVERFLOW_PENDING else failures).extend(page_problems)
            seen[name] = bool(page_problems)
            if shots:
                Path(shots).mkdir(parents=True, exist_ok=True)
                browser.screenshot(Path(shots)/f'{name}.png', 1400, 2000)
    finally:
        browser.close()
    for name in sorted(OVERFLOW_PENDING & set(seen)):
        if not seen[name]:
            failures.append(f'{name}: in OVERFLOW_PENDING but nothing overflows any more: remove it '
                            f'from docs/site_check.py')
    return failures, pending


def main(argv=None):
    ap = argparse.ArgumentParser(description='Render the built site in headless Chromium and check it.')
    ap.add_argument('--html', default=str(HTML), help='the built site (default docs/_build/html)')
    ap.add_argument('--widths', default='1400,1000', help='window widths in px, comma-separated')
    ap.add_argument('--pages', default='', help='page names to check (default: all)')
    ap.add_argument('--shots', default='', help='also save a 1400x2000 screenshot of each page here')
    ap.add_argument('--skip-missing', action='store_true', help='exit 0 when no Chromium is installed')
    ap.add_argument('-v', '--verbose', action='store_true')
    ap.add_argument('--find-browser', action='store_true', help='print the browser found; exit 1 if none')
    a = ap.parse_args(argv)
    if a.find_browser:
        print(find_browser() or 'no Chromium found'); return 0 if find_browser() else 1
    if not find_browser():
        print('docs-check: skipped: no Chromium found (install it with `apt-get install -y chromium`, '
              'or set CHROMIUM=/path/to/chrome)')
        return 0 if a.skip_missing else 2
    if not (Path(a.html)/'index.html').exists():
        print(f'docs-check: {a.html}/index.html is missing: build the site first (make docs)'); return 2
    t0 = time.time()
    widths = [int(w) for w in a.widths.split(',') if w]
    pages = [p for p in a.pages.split(',') if p] or None
    failures, pending = check(a.html, widths, pages, a.shots or None, a.verbose)
    for line in pending: print(f'pending: {line}')
    for line in failures: print(f'FAIL: {line}')
    n = len(pages) if pages else len([p for p in Path(a.html).glob('*.html') if p.stem != 'search'])
    print(f'docs-check: {n} pages at {"/".join(map(str, widths))} px in {time.time() - t0:.0f}s: '
          f'{len(failures)} problems' + (f', {len(pending)} pending (OVERFLOW_PENDING)' if pending else ''))
    return 1 if failures else 0


if __name__ == '__main__': sys.exit(main())
