import { notFound } from "next/navigation";
import { getModelPage } from "@/lib/models/catalogue.ts";
import { getVersionView } from "@/lib/models/versions.ts";
import { getEnv } from "@/lib/env.ts";
import { pageContext } from "@/lib/http/page-context.ts";
import { canReadApproved, canReadUnapprovedIn } from "@/lib/auth/permissions.ts";
import Markdown from "react-markdown";
import { CopyButton } from "../ui/client.tsx";
import { BlockingOps } from "../ui/common.tsx";
import { LatencyChart, SizeChart } from "./charts.tsx";
import { conversionOf, dtypeText, formatBytes, opsOf, opsSummary, shapeText, signaturesOf, SUPPORT_TEXT, tfjsEvidence, tfjsVerdict } from "@/lib/models/signatures.ts";

export const dynamic = "force-dynamic";

// The catalogue page of a model (/{handle}) or one version (/{handle}/{n}). The same paths with a
// hub format query are downloads, answered by the server before this page (lib/serving/).
export default async function ModelPage({ params }: { params: Promise<{ slug: string[] }> }) {
  const { slug } = await params;
  const segs = slug.map((s) => decodeURIComponent(s));
  const last = segs[segs.length - 1]!;
  const pinned = /^[1-9][0-9]{0,8}$/.test(last) ? Number(last) : null;
  const handle = (pinned === null ? segs : segs.slice(0, -1)).join("/").toLowerCase();
  if (handle.split("/").length < 2) notFound();

  const env = getEnv();
  const { principal } = await pageContext(`/${handle}`);
  if (!canReadApproved(principal, { anonymousRead: env.anonymousRead })) {
    return (
      <div className="card empty">
        <p>Sign in to see models on this Hubkeep.</p>
      </div>
    );
  }
  const admin = canReadUnapprovedIn(principal, handle);
  const model = await getModelPage(handle, { includeUnapproved: admin });
  if (!model) notFound();
  const number = pinned ?? model.versions.find((v) => v.status === "approved")?.number ?? model.versions[0]!.number;
  const view = await getVersionView(handle, number);
  if (!view || (view.status !== "approved" && !admin)) notFound();

  const base = env.publicUrl;
  const url = `${base}/${model.handle}/${number}`;
  const sigs = signaturesOf(view.validation);
  const ops = opsOf(view.validation);
  const conversion = conversionOf(view.validation);
  const evidence = tfjsEvidence(view.validation);
  const notRun = evidence.notRun;
  const tfjs = ops ? tfjsVerdict(ops, evidence) : null;
  const executed = view.validation?.execution as { inputs?: Array<{ name: string; shape: number[] | null }> } | null | undefined;
  const firstInput = sigs.find((s) => s.key === "serving_default" || s.key === "default" || s.key === "model")?.inputs[0] ?? executed?.inputs?.[0];
  const inputShape = firstInput?.shape ? `[${firstInput.shape.slice(1).map((d) => (d < 0 ? "None" : d)).join(", ")}]` : null;
  const isTfjs = view.format === "tfjs_graph" || view.format === "tfjs_layers";
  const isLite = view.format === "tflite";
  const hex = view.digest.slice("sha256:".length);
  const downloadUrl = isLite ? `${url}?lite-format=tflite` : `${url}?tf-hub-format=compressed`;
  const file = isLite ? `${model.handle.split("/").pop()}_${number}.tflite` : `${model.handle.split("/").pop()}_${number}.tar.gz`;
  const snippets: Array<{ label: string; code: string }> = [];
  if (isTfjs) {
    snippets.push({ label: "TF.js", code: `import * as tf from "@tensorflow/tfjs";\nconst model = await tf.loadGraphModel("${url}", { fromTFHub: true });` });
  } else if (!isLite) {
    snippets.push({ label: "Keras layer", code: `import tensorflow_hub as hub\nlayer = hub.KerasLayer("${url}", trainable=False${inputShape ? `, input_shape=${inputShape}` : ""})` });
    snippets.push({ label: "hub.load", code: `import tensorflow_hub as hub\nmodel = hub.load("${url}")` });
  }
  snippets.push({ label: "curl", code: `curl -fL -o ${file} "${downloadUrl}"\necho "${hex}  ${file}" | sha256sum -c -` });
  const samples = view.benchmark?.batches.find((b) => b.batch === 1)?.samplesMs ?? view.benchmark?.batches[0]?.samplesMs ?? [];

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
          Tip: <code>tensorflow_hub</code> caches every model forever under <code>TFHUB_CACHE_DIR</code> (default: a temp folder); set it to a
          managed location, as client caches silently grow to tens of GB.
        </p>
      </section>

      <section className="card" aria-labelledby="sigs">
        <h2 id="sigs">Signatures</h2>
        {firstInput ? (
          <p>
            Required input <code>{firstInput.name}</code>: shape <code>{shapeText(firstInput.shape)}</code>
            {firstInput.shape?.[0] !== undefined && firstInput.shape[0] < 0 ? " (the first dimension is the batch)" : ""}.
          </p>
        ) : null}
        {sigs.length === 0 ? (
          <p className="meta">No signatures recorded.</p>
        ) : (
          <table>
            <thead>
              <tr>
                <th scope="col">signature</th>
                <th scope="col">inputs</th>
                <th scope="col">outputs</th>
              </tr>
            </thead>
            <tbody>
              {sigs.map((s) => (
                <tr key={s.key}>
                  <td>
                    <code>{s.key}</code>
                  </td>
                  <td>
                    {s.inputs.map((i) => (
                      <div key={i.name}>
                        <code>{i.name}</code> {dtypeText(i.dtype)} {shapeText(i.shape)}
                      </div>
                    ))}
                  </td>
                  <td>
                    {s.outputs.map((o) => (
                      <div key={o.name}>
                        <code>{o.name}</code> {dtypeText(o.dtype)} {shapeText(o.shape)}
                      </div>
                    ))}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>

      {ops && tfjs ? (
        <section className="card" aria-labelledby="tfjs">
          <h2 id="tfjs">TF.js compatibility</h2>
          <p>
            <span className={`status ${tfjs.ok ? "status-ok" : "status-warn"}`}>{tfjs.label}</span>{" "}
            {ops.verdict === "runs" ? (
              <>
                {opsSummary(ops)}
                {notRun ? ", but the runtime could not convert or run the model:" : "."}
              </>
            ) : (
              <>
                Blocked by <BlockingOps ops={ops.blocking} />
                {ops.signature ? `, needed by ${ops.signature}` : ""}.
              </>
            )}
          </p>
          {conversion && ops.verdict === "blocked" ? (
            <p className="meta">The converted model executed anyway: the flagged ops were not on the path {conversion.signature ?? "the signature"} took.</p>
          ) : null}
          {conversion ? (
            <p className="meta">
              Converted by {conversion.runtime}
              {conversion.signature ? (
                <>
                  {" "}
                  for <code>{conversion.signature}</code>
                </>
              ) : null}
              {conversion.convertMs !== null ? ` in ${conversion.convertMs.toFixed(0)} ms` : ""}:{" "}
              {[
                conversion.nodes !== null ? `${conversion.nodes} nodes` : null,
                conversion.inlinedCalls !== null ? `${conversion.inlinedCalls} function call${conversion.inlinedCalls === 1 ? "" : "s"} inlined` : null,
                conversion.frozenVariables !== null ? `${conversion.frozenVariables} variable${conversion.frozenVariables === 1 ? "" : "s"} frozen` : null,
              ]
                .filter(Boolean)
                .join(", ")}
              .
            </p>
          ) : null}
          {notRun ? (
            <p>
              What stopped {notRun.runtime ?? "the runtime"}
              {notRun.op ? (
                <>
                  {" "}
                  at op{" "}
                  <strong className="blocking-op">
                    <code>{notRun.op}</code>
                  </strong>
                </>
              ) : null}
              : {notRun.reason}
            </p>
          ) : null}
          <details>
            <summary>All {ops.total} ops</summary>
            <div className="table-wrap">
              <table className="compact ops">
                <caption>
                  Every op in the graph and its functions, whether TF.js can run it{ops.signature ? `, and whether ${ops.signature} needs it` : ""}
                  {ops.blocking.length ? "; highlighted rows block the model" : ""}
                </caption>
                <thead>
                  <tr>
                    <th scope="col">op</th>
                    <th scope="col">count</th>
                    <th scope="col">TF.js support</th>
                    <th scope="col">needed{ops.signature ? ` by ${ops.signature}` : ""}</th>
                  </tr>
                </thead>
                <tbody>
                  {ops.ops.map((o) => {
                    const blocks = ops.blocking.includes(o);
                    return (
                      <tr key={o.op} className={blocks ? "blocking" : undefined}>
                        <th scope="row">
                          <code>{o.op}</code>
                        </th>
                        <td>{o.count}</td>
                        <td>
                          {SUPPORT_TEXT[o.support]}
                          {blocks ? <span className="sr-only"> (blocks the model)</span> : null}
                        </td>
                        <td>{o.needed === undefined ? "not known" : o.needed ? "yes" : "no"}</td>
                      </tr>
                    );
                  })}
                </tbody>
              </table>
            </div>
          </details>
        </section>
      ) : null}

      <section className="card" aria-labelledby="val">
        <h2 id="val">Validation and benchmarks</h2>
        {view.validation ? (
          <p>
            {view.validation.level === "executed"
              ? `Executed in the sandbox with ${view.validation.runtime} (${view.validation.backend}).`
              : "Verified statically (parsed and checksummed); not executed on this server."}
            {view.validation.error ? ` Error: ${view.validation.error}` : ""}
          </p>
        ) : (
          <p className="meta">Not validated yet.</p>
        )}
        {view.benchmark ? (
          <div className="charts">
            {samples.length > 0 && <LatencyChart samples={samples} batch={view.benchmark.batches.find((b) => b.batch === 1)?.batch ?? view.benchmark.batches[0]!.batch} />}
            <SizeChart versions={model.versions.map((v) => ({ number: v.number, mib: Number(v.size) / 1048576, current: v.number === number }))} />
          </div>
        ) : null}
        {view.benchmark ? (
          <table>
            <thead>
              <tr>
                <th scope="col">batch</th>
                <th scope="col">first inference</th>
                <th scope="col">p50</th>
                <th scope="col">p95</th>
                <th scope="col">p99</th>
                <th scope="col">throughput</th>
              </tr>
            </thead>
            <tbody>
              {view.benchmark.batches.map((b) => (
                <tr key={b.batch}>
                  <td>{b.batch}</td>
                  <td>{b.firstInferenceMs.toFixed(1)} ms</td>
                  <td>{b.p50Ms.toFixed(2)} ms</td>
                  <td>{b.p95Ms.toFixed(2)} ms</td>
                  <td>{b.p99Ms.toFixed(2)} ms</td>
                  <td>{b.throughputPerSec.toFixed(1)}/s</td>
                </tr>
              ))}
            </tbody>
          </table>
        ) : null}
      </section>

      <section className="card" aria-labelledby="prov">
        <h2 id="prov">Provenance and files</h2>
        <p>
          Digest <code>{view.digest}</code>, {formatBytes(view.size)}.{" "}
          {"url" in view.source && view.source.url
            ? `Mirrored from ${view.source.url}${view.source.fetchedAt ? ` at ${new Date(view.source.fetchedAt).toISOString().replace("T", " ").slice(0, 19)} UTC` : ""}.`
            : `Uploaded by ${"uploadedBy" in view.source && view.source.uploadedBy ? view.source.uploadedBy : "a deleted user"}.`}{" "}
          {view.approval
            ? `Approved by ${view.approval.by ?? "a deleted user"} at ${new Date(view.approval.at).toISOString().replace("T", " ").slice(0, 19)} UTC${view.approval.note ? ` (“${view.approval.note}”)` : ""}.`
            : `Not approved (${view.status}).`}{" "}
          {view.downloads.toLocaleString("en-US")} downloads.
        </p>
        <ul>
          {view.files.map((f) => (
            <li key={f.path}>
              <code>{f.path}</code> {formatBytes(f.size)}
            </li>
          ))}
        </ul>
      </section>

      <section className="card" aria-labelledby="hist">
        <h2 id="hist">Versions</h2>
        <ul>
          {model.versions.map((v) => (
            <li key={v.number}>
              <a href={`/${model.handle}/${v.number}`}>version {v.number}</a> · {v.status} · {formatBytes(v.size)} · {v.downloads} downloads
            </li>
          ))}
        </ul>
      </section>
    </>
  );
}
