//! The audit trail's vocabulary: every event the portal records, named once. The trail stores
//! the name; filters (`jit portal audit --event`, the audit page) accept only these names.

/// One kind of audit row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditEvent {
    /// Credentials vended (API or profile page).
    Vend,
    VendFailed,
    /// Credentials the portal itself refused to vend, with the reason (a login token approved
    /// for tenant access asked for an admin role).
    VendRefused,
    /// An EKS token vended.
    K8sVend,
    K8sVendFailed,
    /// An EKS token the portal itself refused to vend, with the reason.
    K8sVendRefused,
    /// A CLI login authorized on the CLI-login page (a login token minted).
    Login,
    /// A device login's codes handed to a CLI (docs/protocol.md §2.1).
    DeviceCode,
    /// A device login approved on the /device page.
    DeviceApproved,
    /// A device login denied on the /device page.
    DeviceDenied,
    WebSignIn,
    WebSignInFailed,
    WebSignOut,
    TokenCreate,
    TokenRevoke,
    UserAdd,
    UserSet,
    UserRemove,
    UserPasswd,
    /// A user's email address set or cleared (by an admin, or by a single sign-on).
    UserEmail,
    TenantAdd,
    TenantSet,
    TenantRemove,
    Settings,
    /// A second factor enrolled (TOTP, with new recovery codes).
    MfaEnrol,
    /// A user removed their own second factor.
    MfaRemove,
    /// A recovery code spent on a sign-in.
    MfaRecoveryUsed,
    /// Every second factor of a user removed by an admin, their sessions ended.
    MfaReset,
    /// A wrong or reused second-factor code for an existing user.
    MfaFailed,
    /// A local group made.
    GroupAdd,
    /// A local group removed with its local members.
    GroupRemove,
    /// A user put in a local group.
    GroupMemberAdd,
    /// A user taken out of a local group.
    GroupMemberRemove,
    /// A user's single sign-on groups changed at a sign-in.
    SsoGroups,
    /// A user or group made eligible to request a target.
    EligibleAdd,
    /// A user or group no longer eligible for a target.
    EligibleRemove,
    /// A user or group made an approver of a target.
    ApproverAdd,
    /// A user or group no longer an approver of a target.
    ApproverRemove,
    /// A target's access policy changed.
    PolicySet,
    /// An access request made.
    AccessRequest,
    /// One approver's approval of a request.
    AccessApprove,
    /// One approver's denial, which denies the request.
    AccessDeny,
    /// A request approved: its quorum reached, or break-glass.
    AccessApproved,
    /// A pending request withdrawn by its requester.
    AccessWithdraw,
    /// A pending request expired undecided.
    AccessExpire,
    /// A grant made: a user may use a target until its end.
    GrantStart,
    /// A grant ended before its time.
    GrantRevoke,
    /// A request approved by its own requester under a break-glass policy.
    BreakGlass,
    /// An approver reviewed a break-glass grant.
    BreakGlassReview,
    /// A revoked grant's sessions denied on the role (the cut-off's inline policy written).
    GrantCutOff,
    /// The cut-off's inline policy could not be written; the grant is revoked all the same.
    GrantCutOffFailed,
}

impl AuditEvent {
    pub const ALL: [AuditEvent; 51] = [
        AuditEvent::Vend,
        AuditEvent::VendFailed,
        AuditEvent::VendRefused,
        AuditEvent::K8sVend,
        AuditEvent::K8sVendFailed,
        AuditEvent::K8sVendRefused,
        AuditEvent::Login,
        AuditEvent::DeviceCode,
        AuditEvent::DeviceApproved,
        AuditEvent::DeviceDenied,
        AuditEvent::WebSignIn,
        AuditEvent::WebSignInFailed,
        AuditEvent::WebSignOut,
        AuditEvent::TokenCreate,
        AuditEvent::TokenRevoke,
        AuditEvent::UserAdd,
        AuditEvent::UserSet,
        AuditEvent::UserRemove,
        AuditEvent::UserPasswd,
        AuditEvent::UserEmail,
        AuditEvent::TenantAdd,
        AuditEvent::TenantSet,
        AuditEvent::TenantRemove,
        AuditEvent::Settings,
        AuditEvent::MfaEnrol,
        AuditEvent::MfaRemove,
        AuditEvent::MfaRecoveryUsed,
        AuditEvent::MfaReset,
        AuditEvent::MfaFailed,
        AuditEvent::GroupAdd,
        AuditEvent::GroupRemove,
        AuditEvent::GroupMemberAdd,
        AuditEvent::GroupMemberRemove,
        AuditEvent::SsoGroups,
        AuditEvent::EligibleAdd,
        AuditEvent::EligibleRemove,
        AuditEvent::ApproverAdd,
        AuditEvent::ApproverRemove,
        AuditEvent::PolicySet,
        AuditEvent::AccessRequest,
        AuditEvent::AccessApprove,
        AuditEvent::AccessDeny,
        AuditEvent::AccessApproved,
        AuditEvent::AccessWithdraw,
        AuditEvent::AccessExpire,
        AuditEvent::GrantStart,
        AuditEvent::GrantRevoke,
        AuditEvent::BreakGlass,
        AuditEvent::BreakGlassReview,
        AuditEvent::GrantCutOff,
        AuditEvent::GrantCutOffFailed,
    ];

    /// The name the trail stores and prints.
    pub fn as_str(self) -> &'static str {
        match self {
            AuditEvent::Vend => "vend",
            AuditEvent::VendFailed => "vend failed",
            AuditEvent::VendRefused => "vend refused",
            AuditEvent::K8sVend => "k8s vend",
            AuditEvent::K8sVendFailed => "k8s vend failed",
            AuditEvent::K8sVendRefused => "k8s vend refused",
            AuditEvent::Login => "login",
            AuditEvent::DeviceCode => "device code",
            AuditEvent::DeviceApproved => "device approved",
            AuditEvent::DeviceDenied => "device denied",
            AuditEvent::WebSignIn => "web sign-in",
            AuditEvent::WebSignInFailed => "web sign-in failed",
            AuditEvent::WebSignOut => "web sign-out",
            AuditEvent::TokenCreate => "token create",
            AuditEvent::TokenRevoke => "token revoke",
            AuditEvent::UserAdd => "user add",
            AuditEvent::UserSet => "user set",
            AuditEvent::UserRemove => "user remove",
            AuditEvent::UserPasswd => "user passwd",
            AuditEvent::UserEmail => "user email",
            AuditEvent::TenantAdd => "tenant add",
            AuditEvent::TenantSet => "tenant set",
            AuditEvent::TenantRemove => "tenant remove",
            AuditEvent::Settings => "settings",
            AuditEvent::MfaEnrol => "mfa enrol",
            AuditEvent::MfaRemove => "mfa remove",
            AuditEvent::MfaRecoveryUsed => "mfa recovery used",
            AuditEvent::MfaReset => "mfa reset",
            AuditEvent::MfaFailed => "mfa failed",
            AuditEvent::GroupAdd => "group add",
            AuditEvent::GroupRemove => "group remove",
            AuditEvent::GroupMemberAdd => "group member add",
            AuditEvent::GroupMemberRemove => "group member remove",
            AuditEvent::SsoGroups => "sso groups",
            AuditEvent::EligibleAdd => "eligible add",
            AuditEvent::EligibleRemove => "eligible remove",
            AuditEvent::ApproverAdd => "approver add",
            AuditEvent::ApproverRemove => "approver remove",
            AuditEvent::PolicySet => "policy set",
            AuditEvent::AccessRequest => "access request",
            AuditEvent::AccessApprove => "access approve",
            AuditEvent::AccessDeny => "access deny",
            AuditEvent::AccessApproved => "access approved",
            AuditEvent::AccessWithdraw => "access withdraw",
            AuditEvent::AccessExpire => "access expire",
            AuditEvent::GrantStart => "grant start",
            AuditEvent::GrantRevoke => "grant revoke",
            AuditEvent::BreakGlass => "break-glass",
            AuditEvent::BreakGlassReview => "break-glass review",
            AuditEvent::GrantCutOff => "grant cut-off",
            AuditEvent::GrantCutOffFailed => "grant cut-off failed",
        }
    }

    /// The event a stored or typed name means, if it is one.
    pub fn parse(name: &str) -> Option<AuditEvent> {
        AuditEvent::ALL.into_iter().find(|e| e.as_str() == name)
    }

    /// Every name, for a message that lists them.
    pub fn names() -> String {
        AuditEvent::ALL.map(AuditEvent::as_str).join(", ")
    }
}

impl std::fmt::Display for AuditEvent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::AuditEvent;

    #[test]
    fn every_name_parses_back_and_names_are_distinct() {
        let mut seen = std::collections::HashSet::new();
        for e in AuditEvent::ALL {
            assert_eq!(AuditEvent::parse(e.as_str()), Some(e));
            assert!(seen.insert(e.as_str()), "{e} twice");
        }
        assert_eq!(AuditEvent::parse("vend "), None);
    }
}
