/**
 * What the session changed: the branches it pushed and the pull requests it opened (the
 * runner's `workspace.finalized`), and the diff of every file it edited or wrote, file by file.
 */
import type { RepoOutcome, ToolItem } from './timeline.js';
import { Diff, relative } from './cards.js';

/** Only web links: a pull-request URL comes from the runner, but is still not trusted as markup. */
function safeUrl(url: string): string | undefined {
  try {
    const u = new URL(url);
    return u.protocol === 'https:' || u.protocol === 'http:' ? u.href : undefined;
  } catch {
    return undefined;
  }
}

export function Changes({ repos, changes }: { repos: RepoOutcome[]; changes: ToolItem[] }) {
  const done = changes.filter((c) => !c.result?.isError);
  if (!repos.length && !done.length) return null;
  const byFile = new Map<string, ToolItem[]>();
  for (const c of done) {
    const file = relative(typeof c.input.file_path === 'string' ? c.input.file_path : '?', c.cwd);
    byFile.set(file, [...(byFile.get(file) ?? []), c]);
  }
  return (
    <section class="changes" data-testid="changes" aria-label="Changes">
      <strong>Changes</strong>
      {repos.length ? (
        <ul class="repos">
          {repos.map((r) => {
            const pr = r.prUrl ? safeUrl(r.prUrl) : undefined;
            return (
              <li key={r.name} data-repo={r.name}>
                <span class="tool-name">{r.name}</span>{' '}
                {r.status === 'pushed' ? `pushed to ${r.branch ?? '?'}` : r.status}
                {r.added !== undefined ? (
                  <span class="dim">
                    {' '}
                    (+{r.added} −{r.removed ?? 0})
                  </span>
                ) : null}
                {pr ? (
                  <>
                    {' · '}
                    <a href={pr} target="_blank" rel="noopener noreferrer">
                      pull request
                    </a>
                  </>
                ) : null}
                {r.error ? <span class="error"> — {r.error}</span> : null}
              </li>
            );
          })}
        </ul>
      ) : null}
      {[...byFile].map(([file, items]) => (
        <details key={file} class="file-change" data-file={file}>
          <summary>{file}</summary>
          {items.flatMap((c) => {
            if (c.tool === 'Write')
              return [<Diff key={c.key} before="" after={String(c.input.content ?? '')} />];
            const edits = Array.isArray(c.input.edits)
              ? (c.input.edits as Record<string, unknown>[])
              : [c.input];
            return edits.map((e, i) => (
              <Diff
                key={`${c.key}.${i}`}
                before={String(e.old_string ?? '')}
                after={String(e.new_string ?? '')}
              />
            ));
          })}
        </details>
      ))}
    </section>
  );
}
