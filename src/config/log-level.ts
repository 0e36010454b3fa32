/**
 * The values of LOG_LEVEL / `--log-level`. The logger (observability/) declares the same union;
 * passing a configured level to it is what checks that the two agree, without config/ and
 * observability/ importing each other.
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';
