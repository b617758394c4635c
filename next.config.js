// Next.js configuration. Packages with native/Wasm parts or their own module state run from
// node_modules instead of being bundled, so the server entry and route handlers share them.
/** @type {import('next').NextConfig} */
const nextConfig = {
  reactStrictMode: true,
  poweredByHeader: false,
  serverExternalPackages: [
    "@electric-sql/pglite",
    "pglite-prisma-adapter",
    "@prisma/adapter-pg",
    "@prisma/schema-engine-wasm",
    "pg",
    "pg-boss",
    "bcryptjs",
    "@aws-sdk/client-s3",
    "@aws-sdk/lib-storage",
    "@aws-sdk/s3-request-presigner",
  ],
  typescript: { ignoreBuildErrors: false },
};

export default nextConfig;
