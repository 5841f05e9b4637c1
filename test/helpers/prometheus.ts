// Prometheus text parsed by a real parser (parse-prometheus-text-format) into a lookup by name and labels.
import parsePrometheusTextFormat, { type PrometheusFamily } from "parse-prometheus-text-format";

export interface ParsedMetrics {
  families: PrometheusFamily[];
  /** The value of the one sample of `name` whose labels include `labels`; undefined when there is none. */
  value(name: string, labels?: Record<string, string>): number | undefined;
  /** Every sample of `name` (labels and value). */
  samples(name: string): { labels: Record<string, string>; value: number }[];
}

export function parseMetrics(text: string): ParsedMetrics {
  const families = parsePrometheusTextFormat(text);
  const samples = (name: string) => (families.find((f) => f.name === name)?.metrics ?? []).map((m) => ({ labels: m.labels ?? {}, value: Number(m.value) }));
  return {
    families,
    samples,
    value(name, labels = {}) {
      const hits = samples(name).filter((s) => Object.entries(labels).every(([k, v]) => s.labels[k] === v));
      if (hits.length > 1) throw new Error(`${hits.length} samples of ${name} match ${JSON.stringify(labels)}`);
      return hits[0]?.value;
    },
  };
}
