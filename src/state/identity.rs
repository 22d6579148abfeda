//! DESIGN's identity rules: deterministic UUIDv5s, so the same log gives the same UUIDs anywhere.

use uuid::Uuid;

/// `UUIDv5(NAMESPACE_URL, "databuild:partition")`.
pub const PARTITION_NAMESPACE: Uuid = Uuid::from_u128(0x4ee31772_63fd_5e82_b025_e7a4f0c9fda5);

/// The instance a job run builds for `partition_ref`: `UUIDv5(NS, job_run_id + "\n" + ref)`.
pub fn built_partition_uuid(job_run_id: &str, partition_ref: &str) -> Uuid {
    use sha1::Digest;
    let mut sha1 = sha1::Sha1::new();
    sha1.update(PARTITION_NAMESPACE.as_bytes());
    sha1.update(job_run_id.as_bytes());
    sha1.update(b"\n");
    sha1.update(partition_ref.as_bytes());
    let digest = sha1.finalize();
    let bytes: [u8; 16] = digest[..16].try_into().expect("SHA-1 is 20 bytes");
    uuid::Builder::from_sha1_bytes(bytes).into_uuid()
}

/// The one instance of a ref read but never built in the log: `UUIDv5(NS, "\n" + ref)`.
pub fn external_partition_uuid(partition_ref: &str) -> Uuid {
    built_partition_uuid("", partition_ref)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespace_is_derived_from_the_url_namespace() {
        assert_eq!(Uuid::new_v5(&Uuid::NAMESPACE_URL, b"databuild:partition"), PARTITION_NAMESPACE);
        assert_eq!(PARTITION_NAMESPACE.to_string(), "4ee31772-63fd-5e82-b025-e7a4f0c9fda5");
    }

    #[test]
    fn design_example_uuid() {
        assert_eq!(built_partition_uuid("JR-456", "data/beta").to_string(), "d1305448-db69-5062-8c23-837705b1ceef");
    }

    #[test]
    fn built_uuid_is_the_standard_v5_of_the_joined_name() {
        for (run, r) in [("JR-456", "data/beta"), ("", ""), ("jr/é", "data/ü\n/x"), ("a", &"r".repeat(200))] {
            let name = format!("{run}\n{r}");
            assert_eq!(built_partition_uuid(run, r), Uuid::new_v5(&PARTITION_NAMESPACE, name.as_bytes()));
        }
    }

    #[test]
    fn external_uuid_uses_an_empty_job_run_id() {
        assert_eq!(external_partition_uuid("data/alpha"), Uuid::new_v5(&PARTITION_NAMESPACE, b"\ndata/alpha"));
    }
}
