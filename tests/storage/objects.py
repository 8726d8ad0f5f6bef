"""Test helper: a local S3 server (moto) and a local GCS server (fake-gcs-server), and the
objects in them, for tests/cli/storage.rs. Objects are put and removed with boto3 and plain
HTTP, independently of lsdb.

    objects.py s3-setup --endpoint URL          -> prints "KEY_ID SECRET" of a new IAM user
    objects.py s3 --endpoint URL --key ID --secret S < ops.json
    objects.py gcs --endpoint URL < ops.json
    objects.py azure --endpoint URL < ops.json   (Azurite's well-known account)
    objects.py s3-presign --endpoint URL --key ID --secret S --bucket B --object K
               --expires SECONDS --at 20261126T033141Z   -> boto3's presigned GET URL then

ops.json: {"bucket": "b", "create": true, "put": {"key": "text", ...},
           "put_base64": {"key": "..."}, "copies": {"prefix/{i:04}.png": [N, "text"]},
           "delete": ["key", ...], "get": "key"}
"""

import argparse
import base64
import json
import sys
import urllib.parse
import urllib.request


def objects(ops):
    """(key, bytes) pairs to put."""
    for key, text in ops.get("put", {}).items():
        yield key, text.encode()
    for key, data in ops.get("put_base64", {}).items():
        yield key, base64.b64decode(data)
    for pattern, (n, text) in ops.get("copies", {}).items():
        for i in range(n):
            yield pattern.format(i=i), f"{text}{i}".encode()


def s3_setup(endpoint):
    import boto3

    kw = dict(endpoint_url=endpoint, region_name="us-east-1",
              aws_access_key_id="setup", aws_secret_access_key="setup")
    iam = boto3.client("iam", **kw)
    iam.create_user(UserName="lsdb-test")
    iam.put_user_policy(
        UserName="lsdb-test", PolicyName="all",
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}))
    key = iam.create_access_key(UserName="lsdb-test")["AccessKey"]
    print(key["AccessKeyId"], key["SecretAccessKey"])


def s3(endpoint, key_id, secret, ops):
    import boto3

    client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                          aws_access_key_id=key_id, aws_secret_access_key=secret)
    bucket = ops["bucket"]
    if ops.get("create"):
        client.create_bucket(Bucket=bucket)
    for key, data in objects(ops):
        client.put_object(Bucket=bucket, Key=key, Body=data)
    for key in ops.get("delete", []):
        client.delete_object(Bucket=bucket, Key=key)
    if "get" in ops:
        sys.stdout.buffer.write(client.get_object(Bucket=bucket, Key=ops["get"])["Body"].read())


def s3_presign(args):
    """boto3's own SigV4 presigned URL, for the moment lsdb signed at."""
    import datetime

    import boto3
    import botocore.auth
    from botocore.config import Config

    at = datetime.datetime.strptime(args.at, "%Y%m%dT%H%M%SZ")
    botocore.auth.get_current_datetime = lambda *a, **k: at
    client = boto3.client("s3", endpoint_url=args.endpoint, region_name="us-east-1",
                          aws_access_key_id=args.key, aws_secret_access_key=args.secret,
                          config=Config(signature_version="s3v4", s3={"addressing_style": "path"}))
    print(client.generate_presigned_url("get_object", Params={"Bucket": args.bucket, "Key": args.object},
                                        ExpiresIn=args.expires))


AZURITE_KEY = ("Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/"
               "K1SZFPTOtr/KBHBeksoGMGw==")


def azure(endpoint, ops):
    from azure.storage.blob import BlobServiceClient

    conn = (f"DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey={AZURITE_KEY};"
            f"BlobEndpoint={endpoint};")
    container = BlobServiceClient.from_connection_string(conn).get_container_client(ops["bucket"])
    if ops.get("create"):
        container.create_container()
    for key, data in objects(ops):
        container.upload_blob(key, data, overwrite=True)
    for key in ops.get("delete", []):
        container.delete_blob(key)


def gcs(endpoint, ops):
    bucket = ops["bucket"]

    def call(method, url, data=None, content_type="application/json"):
        req = urllib.request.Request(url, data=data, method=method,
                                     headers={"Content-Type": content_type})
        with urllib.request.urlopen(req) as resp:
            return resp.read()

    if ops.get("create"):
        call("POST", f"{endpoint}/storage/v1/b", json.dumps({"name": bucket}).encode())
    for key, data in objects(ops):
        name = urllib.parse.quote(key, safe="")
        call("POST", f"{endpoint}/upload/storage/v1/b/{bucket}/o?uploadType=media&name={name}",
             data, "application/octet-stream")
    for key in ops.get("delete", []):
        call("DELETE", f"{endpoint}/storage/v1/b/{bucket}/o/{urllib.parse.quote(key, safe='')}")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("what", choices=["s3-setup", "s3", "s3-presign", "gcs", "azure"])
    parser.add_argument("--bucket")
    parser.add_argument("--object")
    parser.add_argument("--expires", type=int)
    parser.add_argument("--at")
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--key")
    parser.add_argument("--secret")
    args = parser.parse_args()
    if args.what == "s3-setup":
        s3_setup(args.endpoint)
    elif args.what == "s3-presign":
        s3_presign(args)
    elif args.what == "s3":
        s3(args.endpoint, args.key, args.secret, json.load(sys.stdin))
    elif args.what == "azure":
        azure(args.endpoint, json.load(sys.stdin))
    else:
        gcs(args.endpoint, json.load(sys.stdin))


if __name__ == "__main__":
    main()
