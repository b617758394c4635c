import { listCatalogue } from "@/lib/models/catalogue.ts";

export const dynamic = "force-dynamic";

// The catalogue home: approved models, newest first.
export default async function Home() {
  const { items, total } = await listCatalogue({ page: 1, pageSize: 50 });
  return (
    <>
      <h1>Model catalogue</h1>
      <p className="lede">
        Approved models from your organisation and its TensorFlow Hub mirror. {total} model{total === 1 ? "" : "s"}.
      </p>
      {items.length === 0 ? (
        <div className="card empty">
          <p>No approved models yet.</p>
          <p>
            Publishers request mirrors of allowlisted tfhub.dev handles and upload their own models; admins approve them
            after validation. Approved versions appear here with pinned download URLs.
          </p>
        </div>
      ) : (
        <ul className="models">
          {items.map((m) => (
            <li key={m.handle} className="card">
              <a href={`/${m.handle}`}>{m.handle}</a>
              {m.latestVersion !== null && <span className="badge">v{m.latestVersion}</span>}
              <div className="meta">
                {m.title ?? m.publisher}
                {m.task ? ` · ${m.task}` : ""}
              </div>
            </li>
          ))}
        </ul>
      )}
    </>
  );
}
