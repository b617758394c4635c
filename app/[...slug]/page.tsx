import { notFound } from "next/navigation";
import { getModelPage } from "@/lib/models/models.ts";
import { getVersionView } from "@/lib/models/versions.ts";
import { getEnv } from "@/lib/env.ts";
import { parseModelPagePath } from "@/lib/handle-path.ts";
import { pageContext } from "@/lib/http/page-context.ts";
import { canAdminister, canReadApproved, canReadUnapprovedIn } from "@/lib/auth/permissions.ts";
import { signaturesOf } from "@/lib/models/signatures.ts";
import { buildUsageSnippets, buildPinnedUrl, findPrimaryInput } from "@/lib/models/usage-snippets.ts";
import { VersionHeader } from "./version-header.tsx";
import { UsageSection } from "./usage-section.tsx";
import { SignaturesSection } from "./signatures-section.tsx";
import { TfjsCompatibilitySection } from "./tfjs-compatibility-section.tsx";
import { ValidationSection } from "./validation-section.tsx";
import { ProvenanceSection } from "./provenance-section.tsx";
import { VersionsSection } from "./versions-section.tsx";
import { AliasesSection } from "./aliases-section.tsx";
import { listAliases } from "@/lib/models/aliases.ts";
import { Flash, param, type SearchParams } from "../ui/common.tsx";

export const dynamic = "force-dynamic";

// The catalogue page of a model (/{handle}) or one version (/{handle}/{n}). The same paths with a
// hub format query are downloads, answered by the server before this page (lib/hub/).
export default async function ModelPage({
  params,
  searchParams,
}: {
  params: Promise<{ slug: string[] }>;
  searchParams: SearchParams;
}) {
  const sp = await searchParams;
  const at = parseModelPagePath((await params).slug);
  if (!at) notFound();
  const { handle, version: pinned } = at;

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

  const url = buildPinnedUrl(env.publicUrl, model.handle, number);
  const aliases = await listAliases(model.handle);
  const canManageAliases = canAdminister(principal);
  const signatures = signaturesOf(view.validation);
  const input = findPrimaryInput(signatures, view.validation?.execution);
  const snippets = buildUsageSnippets({
    url,
    handle: model.handle,
    number,
    format: view.format,
    inputShape: input?.shape,
    digest: view.digest,
  });

  return (
    <>
      <Flash notice={param(sp, "notice")} error={param(sp, "error")} />
      <VersionHeader model={model} view={view} number={number} />
      <UsageSection snippets={snippets} deleted={view.deletion !== undefined} />
      <SignaturesSection signatures={signatures} input={input} />
      <TfjsCompatibilitySection validation={view.validation} />
      <ValidationSection model={model} view={view} number={number} />
      <ProvenanceSection view={view} />
      <AliasesSection
        handle={model.handle}
        aliases={aliases}
        approved={model.versions.filter((v) => v.status === "approved").map((v) => v.number)}
        admin={canManageAliases}
        returnTo={pinned === null ? `/${model.handle}` : `/${model.handle}/${pinned}`}
        publicUrl={env.publicUrl}
      />
      <VersionsSection model={model} />
    </>
  );
}
