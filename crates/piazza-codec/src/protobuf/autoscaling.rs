//! `autoscaling/v1` `Scale` (the `scale` subresource's body) with upstream's field numbers
//! (`k8s.io/api/autoscaling/v1/generated.proto`), for the k8s-openapi types.

use piazza_core::k8s_openapi::api::autoscaling::v1::{Scale, ScaleSpec, ScaleStatus};

/// The protobuf package of the autoscaling/v1 types.
pub const AUTOSCALING_V1_PACKAGE: &str = "k8s.io.api.autoscaling.v1";

crate::__proto_message!(Scale, "Scale", Some(AUTOSCALING_V1_PACKAGE), {
    1 => metadata: "metadata",
    2 => spec: "spec",
    3 => status: "status",
});

crate::__proto_message!(ScaleSpec, "ScaleSpec", Some(AUTOSCALING_V1_PACKAGE), {
    1 => replicas: "replicas",
});

crate::__proto_message!(ScaleStatus, "ScaleStatus", Some(AUTOSCALING_V1_PACKAGE), {
    1 => replicas: "replicas",
    2 => selector: "selector",
});

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protobuf::Protobuf;
    use piazza_core::meta::ObjectMeta;

    #[test]
    fn scale_uses_upstream_field_numbers_and_round_trips() {
        let scale = Scale {
            metadata: ObjectMeta { name: Some("p".into()), ..Default::default() },
            spec: Some(ScaleSpec { replicas: Some(3) }),
            status: Some(ScaleStatus { replicas: 2, selector: Some("a=b".into()) }),
        };
        let bytes = scale.encode_to_vec();
        // metadata = 1 {name = 1 "p"}, spec = 2 {replicas = 1: 3}, status = 3 {1: 2, 2: "a=b"}
        assert_eq!(
            bytes,
            [0x0a, 3, 0x0a, 1, b'p', 0x12, 2, 0x08, 3, 0x1a, 7, 0x08, 2, 0x12, 3, b'a', b'=', b'b']
        );
        assert_eq!(Scale::decode(&bytes).unwrap(), scale);
    }
}
