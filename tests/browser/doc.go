// Package browser is the dashboard's test in a real browser (build tag
// browser; `make test-browser` runs it, and so does `make test`).
//
// It builds the CLI, makes a state with several runs (`churnops demo
// --dir`), starts `churnops serve` on it (127.0.0.1, a free port) and
// drives headless Chromium (Debian's package, installed by
// scripts/chromium.sh) through the Chrome DevTools Protocol (chromedp):
//
//   - the page loads with no console error, no uncaught exception and no
//     failed request;
//   - the registry table lists every version `churnops registry list`
//     does, with the same stages;
//   - the drift chart has one point per recorded run;
//   - clicking a month (in the heatmap, and a point of the chart) opens
//     that month's drift report, served by `churnops serve` and, from the
//     static file, read from disk;
//   - the tables sort; the page reads without JavaScript; the first Tab
//     reaches the skip link; at a phone's width (375 px) nothing overflows
//     the page sideways.
//
// Screenshots at 1280 and 375 px are written to $BROWSER_ARTIFACTS
// (default bin/test-artifacts/browser under the repo root); with
// -update-docs the 1280 px one is also written to docs/dashboard.png for
// the README.
//
// Without Chromium (no $CHROMIUM, no /usr/bin/chromium) the test skips,
// unless CI=true, where it fails.
package browser
