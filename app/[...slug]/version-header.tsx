// The top of a model page: title, handle, version, status and the model's description.
import Markdown from "react-markdown";
import type { ModelPageView, VersionView } from "./model-page-view.ts";

export function VersionHeader({ model, view, number }: { model: ModelPageView; view: VersionView; number: number }) {
  return (
    <>
      <h1>{model.title ?? model.handle}</h1>
      <p className="lede">
        <code>{model.handle}</code> · version {number} · <span className="badge">{view.status}</span>
        {view.validation?.level ? <span className="badge">validation: {view.validation.level}</span> : null}
      </p>
      {model.description ? (
        <div className="markdown">
          {/* Markdown without raw HTML: scripts, event handlers and javascript: links stay inert. */}
          <Markdown skipHtml>{model.description}</Markdown>
        </div>
      ) : null}
    </>
  );
}
