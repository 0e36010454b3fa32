/**
 * The session socket (contract §3) beyond its frames: the close codes the hub uses and the query
 * parameter a watcher resumes with. The path is in paths.ts (`ROUTES.socket`, `SOCKET_PATH`).
 */

/** The session was deleted: nothing more will come; a client stops watching. */
export const CLOSE_SESSION_DELETED = 4004;
/** A watcher fell too far behind; the reason names the `after_seq` to rejoin from (at once). */
export const CLOSE_TOO_SLOW = 4008;
/** A runner's connection was replaced by a newer connection of the same run. */
export const CLOSE_REPLACED = 4009;
/** The runner's run has ended. */
export const CLOSE_RUN_ENDED = 4010;
/** The control plane is shutting down (standard "going away"): reconnect later. */
export const CLOSE_SHUTTING_DOWN = 1001;

/** A watcher's query parameter: replay the history after this position (`seq`), then go live. */
export const AFTER_SEQ_PARAM = 'after_seq';
