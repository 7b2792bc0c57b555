import JSONText

/// A publisher in the room, as the videoroom announces it (`publishers` lists).
public struct JanusPublisher: Sendable, Equatable {
    public var id: JanusFeedID
    public var display: String?
    /// Its published streams; empty when Janus listed none.
    public var streams: [JanusPublisherStream]

    public init(id: JanusFeedID, display: String? = nil, streams: [JanusPublisherStream] = []) {
        self.id = id
        self.display = display
        self.streams = streams
    }

    /// From one element of a `publishers` array; nil without a usable `id`.
    init?(json: JSONValue) {
        guard let idValue = json["id"], let id = JanusFeedID(json: idValue) else { return nil }
        self.id = id
        display = json["display"]?.string
        streams = (json["streams"]?.array ?? []).compactMap(JanusPublisherStream.init(json:))
    }

    /// The mids of the streams that can be subscribed to (not disabled).
    var activeMids: Set<String> { Set(streams.filter { !$0.disabled }.map(\.mid)) }
}

/// One stream a publisher sends.
public struct JanusPublisherStream: Sendable, Equatable {
    /// `audio`, `video` or `data`.
    public var type: String
    public var mid: String
    public var mindex: Int?
    public var codec: String?
    public var description: String?
    /// The stream is currently off (Janus then omits its codec).
    public var disabled: Bool

    public init(type: String, mid: String, mindex: Int? = nil, codec: String? = nil, description: String? = nil,
                disabled: Bool = false) {
        self.type = type
        self.mid = mid
        self.mindex = mindex
        self.codec = codec
        self.description = description
        self.disabled = disabled
    }

    init?(json: JSONValue) {
        guard let type = json["type"]?.string, let mid = json["mid"].flatMap(lenientString) else { return nil }
        self.type = type
        self.mid = mid
        mindex = json["mindex"].flatMap(lenientInt)
        codec = json["codec"]?.string
        description = json["description"]?.string
        disabled = json["disabled"]?.bool ?? false
    }
}

/// One m-line of our subscription, from the `streams` of an `attached` or `updated` event.
public struct JanusSubscribedStream: Sendable, Equatable {
    /// The mid in the offer Janus sent us.
    public var mid: String
    /// `audio`, `video` or `data`.
    public var type: String
    /// The publisher whose media this m-line carries; nil for an inactive or data m-line.
    public var feedID: JanusFeedID?
    public var feedDisplay: String?
    /// False once the publisher has gone (the m-line stays, inactive, until it is reused).
    public var active: Bool
    /// The publisher's own mid for this stream.
    public var feedMid: String?
    public var mindex: Int?

    public init(mid: String, type: String, feedID: JanusFeedID?, feedDisplay: String?, active: Bool,
                feedMid: String? = nil, mindex: Int? = nil) {
        self.mid = mid
        self.type = type
        self.feedID = feedID
        self.feedDisplay = feedDisplay
        self.active = active
        self.feedMid = feedMid
        self.mindex = mindex
    }

    init?(json: JSONValue) {
        guard let mid = json["mid"].flatMap(lenientString), let type = json["type"]?.string else { return nil }
        self.mid = mid
        self.type = type
        feedID = json["feed_id"].flatMap(JanusFeedID.init(json:))
        feedDisplay = json["feed_display"]?.string
        active = json["active"]?.bool ?? true
        feedMid = json["feed_mid"].flatMap(lenientString)
        mindex = json["mindex"].flatMap(lenientInt)
    }
}
