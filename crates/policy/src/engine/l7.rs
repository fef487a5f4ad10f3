//! L7 rules in verdicts (C11, C2.8): the port is allowed for the flow's verdict, and the
//! verdict says the requests are filtered by the proxy.

use super::eval::DirVerdict;

/// C11, C2.8: an allow whose matching rules all carry L7. The port is allowed for the
/// verdict; requests the L7 rules do not allow are refused by the proxy (HTTP 403, DNS
/// REFUSED), not dropped. When the direction is not default-deny, Cilium 1.18+ adds a
/// wildcard L7 allow, so nothing is refused; older versions may still refuse (C2.8, inferred).
pub(super) fn l7_note(v: &mut DirVerdict, default_deny: bool, at_least_1_18: Option<bool>) {
    v.cites.push("C11");
    if !default_deny && at_least_1_18 == Some(true) {
        v.reason.push_str(" The rule has L7 rules, but the direction is not default-deny: Cilium 1.18+ adds a wildcard L7 allow, so no request is refused (the traffic still passes the L7 proxy).");
        v.cites.push("C2.8");
        return;
    }
    v.l7 = true;
    v.reason.push_str(" L7-filtered: the rule has L7 rules, so the port is open but requests they do not allow are refused at L7 (not dropped), and the traffic depends on the L7 proxy (an agent restart interrupts it).");
    if !default_deny {
        v.reason.push_str(" The direction is not default-deny, but before Cilium 1.18 (or with the version unknown) L7 rules may still refuse other requests on this port.");
        v.cites.push("C2.8");
    }
}
