internal import Foundation

extension ManifestResolver {
    /// Names and aliases share one namespace, compared case-insensitively: a request must find exactly one model.
    mutating func checkNameCollisions(_ models: [ResolvedModel]) {
        let modelsPath = ManifestPath.root.appending("models")
        var names: [String: Int] = [:]
        for (index, model) in models.enumerated() where !model.name.isEmpty {
            let key = ModelNaming.lookupKey(model.name)
            let path =
                manifest.models[index].name != nil
                ? modelsPath.appending(index).appending("name")
                : filePath(of: manifest.models[index], at: modelsPath.appending(index))
            if let first = names[key] {
                let derived =
                    manifest.models[index].name == nil ? " (derived from the file name; set name: to tell them apart)" : ""
                error(
                    path,
                    "duplicate model name '\(model.name)', already used by the model at line \(position(of: modelsPath.appending(first)).line)\(derived)"
                )
            } else {
                names[key] = index
            }
        }
        var aliases: [String: Int] = [:]
        for (index, model) in models.enumerated() {
            for (aliasIndex, alias) in model.aliases.enumerated() {
                let key = ModelNaming.lookupKey(alias)
                let path = modelsPath.appending(index).appending("aliases").appending(aliasIndex)
                if let owner = names[key] {
                    if owner == index {
                        warning(path, "alias '\(alias)' is the model's own name")
                    } else {
                        error(path, "alias '\(alias)' shadows the name of model '\(models[owner].name)'")
                    }
                } else if let owner = aliases[key] {
                    let user = owner == index ? "is listed twice" : "is already used by model '\(models[owner].name)'"
                    error(path, "alias '\(alias)' \(user)")
                } else {
                    aliases[key] = index
                }
            }
        }
    }

    mutating func resolveEndpoints(models: [ResolvedModel]) -> [ResolvedEndpoint] {
        let allNames = models.map(\.name)
        guard let endpoints = manifest.endpoints else {
            var endpoint = Self.defaultEndpoint
            endpoint.models = allNames
            return [endpoint]
        }
        let endpointsPath = ManifestPath.root.appending("endpoints")
        var resolved: [ResolvedEndpoint] = []
        for (index, endpoint) in endpoints.enumerated() {
            let path = endpointsPath.appending(index)
            checkNameSyntax(endpoint.name, at: path.appending("name"), what: "endpoint name")
            if let earlier = endpoints[..<index].firstIndex(where: { $0.name.lowercased() == endpoint.name.lowercased() }) {
                error(
                    path.appending("name"),
                    "endpoint name '\(endpoint.name)' is already used at line \(position(of: endpointsPath.appending(earlier)).line)"
                )
            }
            if let earlier = endpoints[..<index].firstIndex(where: {
                $0.listen.conflicts(with: endpoint.listen) && $0.listen != .placeholder
            }),
                endpoint.listen != .placeholder
            {
                error(
                    path.appending("listen"),
                    "endpoint '\(endpoint.name)' listens on \(endpoint.listen.text), which endpoint '\(endpoints[earlier].name)' already uses (\(endpoints[earlier].listen.text))"
                )
            }
            if let apis = endpoint.apis, apis.isEmpty {
                error(path.appending("apis"), "apis must list at least one of openai, ollama, admin, metrics")
            }
            var exposed: [String] = []
            for (modelIndex, requested) in (endpoint.models ?? allNames).enumerated() {
                if let model = models.first(where: { $0.lookupKeys.contains(ModelNaming.lookupKey(requested)) }) {
                    if !exposed.contains(model.name) { exposed.append(model.name) }
                } else {
                    let hint = Suggestion.didYouMean(requested, in: models.flatMap { [$0.name] + $0.aliases })
                    error(
                        path.appending("models").appending(modelIndex),
                        "endpoint '\(endpoint.name)' exposes undeclared model '\(requested)'\(hint)")
                }
            }
            var tokensFile: String?
            if let file = endpoint.auth?.tokensFile {
                tokensFile = absolute(file)
                if !environment.fileExists(tokensFile!) {
                    error(path.appending("auth").appending("tokensFile"), "tokens file '\(tokensFile!)' does not exist")
                }
            }
            if let bytes = endpoint.maxBodyBytes, bytes < 1024 {
                error(path.appending("maxBodyBytes"), "maxBodyBytes must be at least 1024, found \(bytes)")
            }
            resolved.append(
                ResolvedEndpoint(
                    name: endpoint.name, listen: endpoint.listen, apis: endpoint.apis ?? [.openai, .ollama], models: exposed,
                    tokensFile: tokensFile, corsOrigins: endpoint.cors?.origins ?? [],
                    maxBodyBytes: endpoint.maxBodyBytes ?? Self.defaultMaxBodyBytes,
                    remoteImages: resolveRemoteImages(endpoint.remoteImages, at: path.appending("remoteImages"))))
        }
        return resolved
    }

    private mutating func resolveRemoteImages(_ remote: RemoteImages?, at path: ManifestPath) -> ResolvedRemoteImages? {
        guard let remote else { return nil }
        if remote.hosts.isEmpty { error(path.appending("hosts"), "hosts must list at least one host name (or *)") }
        for (index, host) in remote.hosts.enumerated()
        where host.isEmpty || host.contains("/") || host.contains(":") && !host.contains("]") || host.contains(" ") {
            error(
                path.appending("hosts").appending(index),
                "'\(host)' is not a host name; give names or addresses only (no scheme, port or path), or *")
        }
        let timeout = remote.timeout ?? ResolvedRemoteImages.defaultTimeout
        if timeout.milliseconds < 100 { error(path.appending("timeout"), "timeout must be at least 100ms") }
        let maxBytes = remote.maxSize.map { Int(clamping: $0.bytes) } ?? ResolvedRemoteImages.defaultMaxBytes
        if maxBytes < 1024 { error(path.appending("maxSize"), "maxSize must be at least 1KiB") }
        // URLs name IPv6 addresses in brackets, which their host part comes without.
        let hosts = remote.hosts.map { $0.lowercased().trimmingCharacters(in: CharacterSet(charactersIn: "[]")) }
        return ResolvedRemoteImages(hosts: hosts, timeout: timeout, maxBytes: maxBytes)
    }
}
