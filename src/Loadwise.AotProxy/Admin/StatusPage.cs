namespace Loadwise.AotProxy.Admin;

/// <summary>
/// The status page: one self-contained HTML file (no CDN, no build step) embedded in the binary, which reads
/// <c>/admin/backends</c> every 2 s and draws a row per backend, totals and a sparkline of the last minute.
/// </summary>
/// <example><code>await StatusPage.WriteAsync(context);</code></example>
internal static class StatusPage
{
    private static readonly Lazy<byte[]> Html = new(Load);

    /// <summary>Writes the page.</summary>
    public static Task WriteAsync(HttpContext context)
    {
        context.Response.StatusCode = StatusCodes.Status200OK;
        context.Response.ContentType = "text/html; charset=utf-8";
        context.Response.Headers.CacheControl = "no-store";
        // The page loads nothing from elsewhere, and no other site may frame it (its buttons drain backends).
        context.Response.Headers.ContentSecurityPolicy = "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src 'self' data:; frame-ancestors 'none'";
        context.Response.Headers.XContentTypeOptions = "nosniff";
        return context.Response.Body.WriteAsync(Html.Value, context.RequestAborted).AsTask();
    }

    private static byte[] Load()
    {
        using Stream stream = typeof(StatusPage).Assembly.GetManifestResourceStream("Loadwise.AotProxy.Admin.status.html")
            ?? throw new InvalidOperationException("the status page is not embedded in this build");
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return copy.ToArray();
    }
}
