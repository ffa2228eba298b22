/** Line charts with uPlot (small, fast, canvas): sized to their container, resized with it. */
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

const COLOURS = ['#1a73e8', '#d93025', '#188038', '#e37400', '#9334e6', '#007b83', '#b80672', '#5f6368'];

export interface ChartSeries {
  label: string;
  /** Dashed line (for targets). */
  dash?: boolean;
  colour?: string;
}

export interface LineChart {
  readonly el: HTMLElement;
  setData(data: uPlot.AlignedData): void;
  destroy(): void;
}

/** A time-series line chart: x in Unix seconds, one y array per series (null = gap). */
export function lineChart(container: HTMLElement, series: ChartSeries[], o: { height?: number; yLabel?: string; label: string; windowSeconds?: number; logY?: boolean }): LineChart {
  const el = document.createElement('div');
  el.className = 'chart';
  el.setAttribute('role', 'img');
  el.setAttribute('aria-label', o.label);
  container.appendChild(el);
  const width = () => Math.max(260, Math.floor(el.clientWidth || container.clientWidth || 600));
  const opts: uPlot.Options = {
    width: width(),
    height: o.height ?? 180,
    legend: { show: true },
    cursor: { drag: { x: false, y: false } },
    scales: {
      // A live chart shows the last `windowSeconds` up to now, whatever data it has.
      x: o.windowSeconds ? { time: true, range: () => [Date.now() / 1000 - o.windowSeconds!, Date.now() / 1000] } : { time: true },
      y: o.logY ? { distr: 3, log: 10 } : { range: (_u, min, max) => [Math.min(0, min ?? 0), Math.max(1, (max ?? 1) * 1.1)] },
    },
    axes: [{}, { label: o.yLabel, size: 60 }],
    series: [
      {},
      ...series.map((s, i) => ({
        label: s.label,
        stroke: s.colour ?? COLOURS[i % COLOURS.length]!,
        width: 2,
        dash: s.dash ? [6, 4] : undefined,
        spanGaps: false,
      })),
    ],
  };
  const empty: uPlot.AlignedData = [[], ...series.map(() => [])];
  const plot = new uPlot(opts, empty, el);
  const ro = new ResizeObserver(() => plot.setSize({ width: width(), height: opts.height }));
  ro.observe(container);
  return {
    el,
    setData: (data) => plot.setData(data),
    destroy: () => {
      ro.disconnect();
      plot.destroy();
      el.remove();
    },
  };
}
