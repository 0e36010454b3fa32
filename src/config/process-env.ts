/** The one place that touches `process.env`; everything else receives values from src/config. */
export function readProcessEnv(): Readonly<Record<string, string | undefined>> {
  return Object.freeze({ ...process.env });
}
