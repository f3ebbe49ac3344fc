using System.Net;
using System.Net.Sockets;

namespace Switchboard.Tests.Rig;

/// <summary>
/// A server that accepts connections on 127.0.0.1 and never answers: what a frozen or cut-off host looks like to a
/// driver, whose open then waits for its whole connect timeout.
/// </summary>
public sealed class SilentServer : IDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);

    public SilentServer()
    {
        _listener.Start();
        Port = ((IPEndPoint)_listener.LocalEndpoint).Port;
    }

    public int Port { get; }

    /// <summary><c>127.0.0.1:port</c>, as a replica's host.</summary>
    public string Host => "127.0.0.1:" + Port;

    public void Dispose() => _listener.Dispose();
}
