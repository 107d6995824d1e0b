"""The scripts of an interactive report: Bokeh CustomJS bodies, run in the page
with no server.

``UPDATE`` sets every glyph to the slider's frame and the selected pair of axes;
``PLAY`` starts and stops a timer that moves the slider one frame at a time;
``ELLIPSES`` draws the ellipses of covariances for them and for the selection page.
Their variables are the CustomJS ``args`` that :mod:`kmix.viz.report` passes.
"""

__all__ = ["ELLIPSES", "UPDATE", "PLAY"]

# The n_std outlines of ellipses, for both pages: rows[j] is the row of component j's
# 2x2 covariance (entries a, b; b, c) on the axes xc, yc in the columns of ``cov``,
# (cx[j], cy[j]) its centre. Returns [xs, ys], one list of n_ellipse points each.
ELLIPSES = r"""
function ellipse_outlines(cov, xc, yc, rows, cx, cy, n_std, n_ellipse) {
  const key = (a, b) => (cov["c_" + a + "__" + b] !== undefined ? cov["c_" + a + "__" + b] : cov["c_" + b + "__" + a]);
  const saa = key(xc, xc), sab = key(xc, yc), sbb = key(yc, yc);
  const ex = [], ey = [];
  rows.forEach((row, j) => {
    const a = saa[row], b = sab[row], c = sbb[row];
    const half = 0.5 * (a + c), radius = Math.hypot(0.5 * (a - c), b);
    const major = Math.sqrt(Math.max(half + radius, 0)), minor = Math.sqrt(Math.max(half - radius, 0));
    const angle = 0.5 * Math.atan2(2 * b, a - c);
    const cos = Math.cos(angle), sin = Math.sin(angle);
    const xs = [], ys = [];
    for (let i = 0; i < n_ellipse; i++) {
      const t = 2 * Math.PI * i / (n_ellipse - 1);
      const u = n_std * major * Math.cos(t), v = n_std * minor * Math.sin(t);
      xs.push(cx[j] + u * cos - v * sin);
      ys.push(cy[j] + u * sin + v * cos);
    }
    ex.push(xs);
    ey.push(ys);
  });
  return [ex, ey];
}
"""

# args: slider, frames, x_select, y_select, titles, points, history, covariances,
# centres, paths, ellipses, objective, marker, progress, label, x_axis, y_axis,
# feature_columns, n_components, n_std, n_ellipse, objective_name
UPDATE = ELLIPSES + r"""
const n_frames = frames.data.centre_step.length;
const f = Math.max(0, Math.min(n_frames - 1, Math.round(slider.value)));
const step = frames.data.centre_step[f];
const k = n_components;
const xc = x_select.value;
const yc = y_select.value;

// The points: the pair of axes shown, coloured by the frame's labels.
const pd = Object.assign({}, points.data);
pd.x = pd[xc];
pd.y = pd[yc];
pd.shown_label = pd[frames.data.label_column[f]];
points.data = pd;

// The centres (means) of the frame, their paths up to it.
const hd = history.data;
const cx = [], cy = [];
const full = {};
for (const column of feature_columns) full[column] = [];
const px = [], py = [];
for (let j = 0; j < k; j++) {
  const row = step * k + j;
  cx.push(hd[xc][row]);
  cy.push(hd[yc][row]);
  for (const column of feature_columns) full[column].push(hd[column][row]);
  const xs = [], ys = [];
  for (let s = 0; s <= step; s++) {
    xs.push(hd[xc][s * k + j]);
    ys.push(hd[yc][s * k + j]);
  }
  px.push(xs);
  py.push(ys);
}
const cd = Object.assign({}, centres.data, full);
cd.x = cx;
cd.y = cy;
if (hd.weight !== undefined) cd.weight = Array.from({length: k}, (_, j) => hd.weight[step * k + j]);
centres.data = cd;
paths.data = Object.assign({}, paths.data, {xs: px, ys: py});

// The n_std ellipses of a mixture, from the 2x2 covariance on the shown axes.
if (covariances !== null) {
  const rows = Array.from({length: k}, (_, j) => step * k + j);
  const [ex, ey] = ellipse_outlines(covariances.data, xc, yc, rows, cx, cy, n_std, n_ellipse);
  ellipses.data = Object.assign({}, ellipses.data, {xs: ex, ys: ey});
}

// The objective: the values up to the frame's, that one marked.
const index = frames.data.objective_index[f];
const ox = objective.data.x, oy = objective.data.y;
const shown = index < 0 ? 0 : index + 1;
progress.data = {x: Array.from(ox.slice(0, shown)), y: Array.from(oy.slice(0, shown))};
marker.data = index < 0 ? {x: [], y: []} : {x: [ox[index]], y: [oy[index]]};

// The value as Python's format(value, ".7g") writes it, as in the first view.
const g7 = (v) => {
  if (!isFinite(v)) return String(v);
  if (v === 0) return "0";
  const strip = (s) => (s.includes(".") ? s.replace(/0+$/, "").replace(/\.$/, "") : s);
  const [mantissa, power] = v.toExponential(6).split("e");
  const exponent = parseInt(power);
  if (exponent < -4 || exponent >= 7) {
    return strip(mantissa) + "e" + (exponent < 0 ? "-" : "+") + String(Math.abs(exponent)).padStart(2, "0");
  }
  return strip(v.toFixed(6 - exponent));
};
const value = index < 0 ? "" : ", " + objective_name + " " + g7(Number(oy[index]));
label.text = "frame " + f + " of " + (n_frames - 1) + ": " + frames.data.caption[f] + value;
x_axis.axis_label = titles[xc];
y_axis.axis_label = titles[yc];
"""

# args: slider, button, interval
PLAY = r"""
const stop = () => {
  clearInterval(button.__kmix_timer);
  button.__kmix_timer = null;
  button.label = "\u25B6 Play";
};
if (button.__kmix_timer != null) {
  stop();
} else {
  if (slider.value >= slider.end) slider.value = slider.start;
  button.label = "\u275A\u275A Pause";
  button.__kmix_timer = setInterval(() => {
    if (slider.value >= slider.end) {
      stop();
    } else {
      slider.value = slider.value + 1;
    }
  }, interval);
}
"""
