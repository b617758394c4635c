// "Versions": every version of the model the caller may see, each linked to its own page.
import { formatBytes } from "@/lib/models/signatures.ts";
import type { ModelPageView } from "./model-page-view.ts";

export function VersionsSection({ model }: { model: ModelPageView }) {
  return (
    <section className="card" aria-labelledby="hist">
      <h2 id="hist">Versions</h2>
      <ul>
        {model.versions.map((v) => (
          <li key={v.number}>
            <a href={`/${model.handle}/${v.number}`}>version {v.number}</a> · {v.status} · {formatBytes(v.size)} ·{" "}
            {v.downloads} downloads
          </li>
        ))}
      </ul>
    </section>
  );
}
