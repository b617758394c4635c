// "Use it": the copyable snippets that load or download the pinned version.
import type { UsageSnippet } from "@/lib/models/usage-snippets.ts";
import { CopyButton } from "../ui/client.tsx";

export function UsageSection({ snippets, deleted }: { snippets: UsageSnippet[]; deleted: boolean }) {
  // A deleted version's URLs answer 410 Gone: snippets that "always get the same bytes" would mislead.
  if (deleted)
    return (
      <section className="card" aria-labelledby="use">
        <h2 id="use">Use it</h2>
        <p className="notice-warn" data-testid="deleted-usage">
          This version was deleted and is not served any more: its URLs answer 410 Gone. Pick another version below.
        </p>
      </section>
    );
  return (
    <section className="card" aria-labelledby="use">
      <h2 id="use">Use it</h2>
      <p className="meta">Pinned URL: versions never change, so these lines always get the same bytes.</p>
      {snippets.map((sn) => (
        <div key={sn.label} className="snippet-block">
          <div className="snippet-head">
            <span>{sn.label}</span>
            <CopyButton text={sn.code} label={`Copy ${sn.label}`} />
          </div>
          <pre>
            <code data-snippet={sn.label}>{sn.code}</code>
          </pre>
        </div>
      ))}
      <p className="meta">
        Tip: <code>tensorflow_hub</code> caches every model forever under <code>TFHUB_CACHE_DIR</code> (default: a temp
        folder); set it to a managed location, as client caches silently grow to tens of GB.
      </p>
    </section>
  );
}
