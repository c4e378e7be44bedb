-- Single sign-on logins under way now live in the browser that started them, in a sealed cookie
-- of their own (portal/src/web/sso.rs): nothing an unauthenticated request does fills a table.
DROP TABLE IF EXISTS oidc_logins;
