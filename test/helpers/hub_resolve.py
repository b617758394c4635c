#!/usr/bin/env python3
"""What tensorflow_hub's compressed resolver does, with the standard library only.

usage: hub_resolve.py <handle URL> <dest dir>
  - appends tf-hub-format=compressed to the existing query;
  - follows redirects (urllib's default opener; an S3 redirect goes to a presigned URL);
  - streams the body as a tar with mode "r|*";
  - accepts only regular files and directories, strips a leading "/", rejects "..";
  - requires saved_model.pb at the archive root.
With HUB_TOKEN set, a global opener answers the server's Basic challenge with the token as the
password: the way a site without anonymous read gives tensorflow_hub (which sends no headers) access.
Prints a JSON object {path: sha256} of what it extracted.
"""
import hashlib
import json
import os
import sys
import tarfile
import urllib.parse
import urllib.request


def main():
    handle, dest = sys.argv[1], sys.argv[2]
    parts = urllib.parse.urlsplit(handle)
    query = parts.query + ("&" if parts.query else "") + "tf-hub-format=compressed"
    url = urllib.parse.urlunsplit(parts._replace(query=query))
    token = os.environ.get("HUB_TOKEN")
    if token:
        mgr = urllib.request.HTTPPasswordMgrWithDefaultRealm()
        mgr.add_password(None, f"{parts.scheme}://{parts.netloc}/", "token", token)
        urllib.request.install_opener(urllib.request.build_opener(urllib.request.HTTPBasicAuthHandler(mgr)))
    os.makedirs(dest, exist_ok=True)
    with urllib.request.urlopen(url) as resp:
        with tarfile.open(fileobj=resp, mode="r|*") as tgz:
            for info in tgz:
                name = info.name.lstrip("/")
                if ".." in name.split("/"):
                    raise SystemExit(f"refused: {info.name} escapes the module folder")
                if not (info.isfile() or info.isdir()):
                    raise SystemExit(f"refused: {info.name} is neither a file nor a directory")
                target = os.path.join(dest, name)
                if info.isdir():
                    os.makedirs(target, exist_ok=True)
                    continue
                os.makedirs(os.path.dirname(target) or dest, exist_ok=True)
                src = tgz.extractfile(info)
                with open(target, "wb") as out:
                    while True:
                        chunk = src.read(1 << 20)
                        if not chunk:
                            break
                        out.write(chunk)
    if not os.path.isfile(os.path.join(dest, "saved_model.pb")):
        raise SystemExit("does not appear to be a valid module: no saved_model.pb at the archive root")
    hashes = {}
    for root, _dirs, files in os.walk(dest):
        for f in files:
            p = os.path.join(root, f)
            with open(p, "rb") as fh:
                hashes[os.path.relpath(p, dest)] = hashlib.sha256(fh.read()).hexdigest()
    print(json.dumps(hashes, sort_keys=True))


if __name__ == "__main__":
    main()
